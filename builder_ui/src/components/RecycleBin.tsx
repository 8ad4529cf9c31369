/** A form's deleted records (most recent first) with one-click restore; needs the delete right. */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { App, Button, Drawer, Empty, List, Typography } from "antd";
import dayjs from "dayjs";
import { useTranslation } from "react-i18next";
import { api, ApiError } from "../api/client";
import type { AppDef, FormDef, RecordJson } from "../api/types";
import { displayText } from "../forms/display";

interface Props {
  app: AppDef;
  form: FormDef;
  open: boolean;
  onClose(): void;
}

export default function RecycleBin({ app, form, open, onClose }: Props) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const client = useQueryClient();
  const bin = useQuery({ queryKey: ["recycle-bin", app.key, form.key], queryFn: () => api.recycleBin(app.key, form.key), enabled: open });
  const titleField = form.fields.find((f) => f.key === form.title_field);
  const title = (r: RecordJson) => (titleField ? displayText(titleField, r[titleField.key], i18n.language) : "") || `#${r._id}`;

  async function restore(record: RecordJson) {
    try {
      await api.restore(app.key, form.key, record._id);
      message.success(t("record.restoredOk"));
      await client.invalidateQueries({ queryKey: ["recycle-bin", app.key, form.key] });
      await client.invalidateQueries({ queryKey: ["records", app.key, form.key] });
    } catch (e) {
      message.error(e instanceof ApiError ? e.message : t("errors.generic"));
    }
  }

  return (
    <Drawer open={open} onClose={onClose} title={t("record.recycleBin")} data-testid="recycle-bin" styles={{ wrapper: { maxWidth: "100vw" } }}>
      {bin.data && bin.data.items.length === 0 ? (
        <Empty description={t("record.emptyBin")} />
      ) : (
        <List
          loading={bin.isPending}
          dataSource={bin.data?.items ?? []}
          renderItem={(record) => (
            <List.Item
              actions={[
                <Button key="restore" size="small" onClick={() => restore(record)} data-testid={`restore-${record._id}`}>
                  {t("record.restore")}
                </Button>,
              ]}
            >
              <List.Item.Meta
                title={title(record)}
                description={
                  <Typography.Text type="secondary">
                    {t("record.deletedAt")}: {record._deleted_at ? dayjs(String(record._deleted_at)).format("YYYY-MM-DD HH:mm") : ""}
                  </Typography.Text>
                }
              />
            </List.Item>
          )}
        />
      )}
    </Drawer>
  );
}
