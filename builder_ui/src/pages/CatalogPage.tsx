/** The app catalog (administrators): install a pack, with or without its sample data. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Checkbox, Col, Row, Spin, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";
import { api, ApiError } from "../api/client";
import type { Pack } from "../api/types";
import { labelText } from "../forms/labels";

function PackCard({ pack, installed }: { pack: Pack; installed: boolean }) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [sample, setSample] = useState(pack.sample_data);
  const name = labelText(pack.name, i18n.language, pack.key);
  const install = useMutation({
    mutationFn: () => api.install(pack.key, sample),
    onSuccess: async () => {
      message.success(t("catalog.done", { name }));
      await client.invalidateQueries({ queryKey: ["apps"] });
      navigate(`/apps/${pack.key}`);
    },
    onError: (e) => message.error(e instanceof ApiError ? e.message : t("errors.generic")),
  });
  return (
    <Card
      title={name}
      extra={installed ? <Tag color="green">{t("catalog.installed")}</Tag> : <Tag>v{pack.version}</Tag>}
      data-testid={`pack-${pack.key}`}
      actions={[
        <Button key="install" type="primary" disabled={installed} loading={install.isPending} onClick={() => install.mutate()}>
          {t("catalog.install")}
        </Button>,
      ]}
    >
      <Typography.Paragraph>{labelText(pack.description, i18n.language)}</Typography.Paragraph>
      {pack.sample_data && (
        <Checkbox checked={sample} onChange={(e) => setSample(e.target.checked)} disabled={installed}>
          {t("catalog.sample")}
        </Checkbox>
      )}
    </Card>
  );
}

export default function CatalogPage() {
  const { t } = useTranslation();
  const packs = useQuery({ queryKey: ["catalog"], queryFn: api.catalog });
  const apps = useQuery({ queryKey: ["apps"], queryFn: api.apps });
  if (packs.isPending) return <Spin />;
  const installed = new Set((apps.data ?? []).map((a) => a.key));
  return (
    <>
      <Typography.Title level={3}>{t("catalog.title")}</Typography.Title>
      <Row gutter={[16, 16]}>
        {(packs.data ?? []).map((pack) => (
          <Col key={pack.key} xs={24} md={12} lg={8}>
            <PackCard pack={pack} installed={installed.has(pack.key)} />
          </Col>
        ))}
      </Row>
    </>
  );
}
