/** A form's records: server-side filter, search, sort and paging, a column chooser and the drawer. */
import { DeleteOutlined, DownOutlined, DownloadOutlined, EditOutlined, FilterOutlined, FormOutlined, LinkOutlined, PlusOutlined, SettingOutlined, UploadOutlined } from "@ant-design/icons";
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Badge, Button, Checkbox, Dropdown, Input, Popconfirm, Popover, Result, Table, Typography } from "antd";
import type { MenuProps } from "antd";
import type { SorterResult, TableCurrentDataSource } from "antd/es/table/interface";
import { useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate, useParams, useSearchParams } from "react-router";
import { api, ApiError } from "../api/client";
import type { RecordJson } from "../api/types";
import FieldValue from "../components/FieldValue";
import { EDITABLE_TYPES } from "../components/FieldInput";
import FilterBuilder from "../components/FilterBuilder";
import InlineCell from "../components/InlineCell";
import RecordDrawer from "../components/RecordDrawer";
import ImportModal from "../components/ImportModal";
import RecycleBin from "../components/RecycleBin";
import { downloadExport } from "../api/views";
import { canManageLinks, exportFilter } from "../views/helpers";
import { useAuth } from "../auth/AuthContext";
import { hasTrait, isComputed, LAYOUT_TYPES } from "../forms/fieldTypes";
import { displayField, formUse, useAppMenu } from "../forms/appMenu";
import { filterExpr } from "../forms/filter";
import { readGridView, sortAfterClick, withGridView, withParam, type GridView } from "../forms/gridState";
import { fieldLabel, labelText } from "../forms/labels";
import { findForm, useApp } from "./appContext";

const PAGE_SIZE = 20;
const DEFAULT_COLUMNS = 8;

export default function RecordsPage() {
  const { form: formKey } = useParams();
  const { app } = useApp();
  const { user } = useAuth();
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const form = findForm(app, formKey);
  // Filter, sort, search and page live in the URL (forms/gridState.ts): shareable, kept across
  // the drawer's edit and a reload, and stepped through by the back button.
  const { where: filter, sort, q, page } = readGridView(params);
  const setView = (change: Partial<GridView>) => setParams((current) => withGridView(current, change));
  const setPage = (next: number) => setView({ page: next });
  // The sort the grid shows is held here as well as in the URL: a navigation renders in a
  // transition, so the URL's sort reaches the table later than the click that set it, and a
  // second click must build on the first (sortAfterClick). The URL wins when it changes
  // otherwise (back button, a shared link).
  const [shownSort, setShownSort] = useState(sort);
  const sortNow = useRef(sort);
  useEffect(() => {
    sortNow.current = sort;
    setShownSort(sort);
  }, [sort]);
  const [filterOpen, setFilterOpen] = useState(false);
  const [chosen, setChosen] = useState<string[] | null>(null);
  const [binOpen, setBinOpen] = useState(false);
  const [selected, setSelected] = useState<number[]>([]);
  const [deleting, setDeleting] = useState(false);
  const [inline, setInline] = useState(false);
  const [editing, setEditing] = useState<{ id: number; key: string } | null>(null);
  const [importOpen, setImportOpen] = useState(false);
  const [exporting, setExporting] = useState(false);
  const { message } = App.useApp();
  const client = useQueryClient();

  const permissions = useQuery({ queryKey: ["permissions", app.key, formKey], queryFn: () => api.permissions(app.key, formKey!), enabled: !!form });
  const visibleFields = useMemo(
    () => (form?.fields ?? []).filter((f) => !LAYOUT_TYPES.has(f.type) && permissions.data?.fields[f.key] !== "hidden"),
    [form, permissions.data],
  );
  // A report's click-through opens the records behind a cell as `?filter=` (ANDed to the grid's own).
  const linked = params.get("filter") ?? "";
  const own = form ? filterExpr(filter, visibleFields) : "";
  const expr = linked && own ? `(${linked}) AND (${own})` : linked || own;
  const menu = useAppMenu(app);
  const use = formUse(menu.data, formKey ?? "");
  const display = menu.data?.forms[formKey ?? ""]?.display;
  const records = useQuery({
    queryKey: ["records", app.key, formKey, expr, sort, q, page],
    queryFn: () => api.records(app.key, formKey!, { filter: expr, sort, q, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE }),
    enabled: !!form && permissions.isSuccess && use.read,
    placeholderData: keepPreviousData,
  });

  if (!form) return <Result status="404" title={t("errors.notFound")} />;
  // A form the user may not read says so up front (the engine refuses it anyway: 404).
  const notFound = permissions.error instanceof ApiError && permissions.error.status === 404;
  if (!use.read || notFound)
    return (
      <Result
        status="403"
        title={t("fix.noAccess")}
        subTitle={use.create ? t("fix.fillOnlyHint") : t("fix.noAccessHint")}
        extra={
          use.create ? (
            <Button type="primary" onClick={() => navigate(`/apps/${app.key}/${form.key}/new`)} data-testid="fill-only">
              {t("fix.fillNow")}
            </Button>
          ) : undefined
        }
        data-testid="no-access"
      />
    );
  const columnKeys = chosen ?? visibleFields.slice(0, DEFAULT_COLUMNS).map((f) => f.key);
  const open = params.get("open");
  const columns = visibleFields
    .filter((f) => columnKeys.includes(f.key))
    .map((f) => ({
      key: f.key,
      dataIndex: f.key,
      title: fieldLabel(f, i18n.language),
      sorter: hasTrait(f.type, "sortable"),
      sortOrder: shownSort === f.key ? ("ascend" as const) : shownSort === `-${f.key}` ? ("descend" as const) : null,
      ellipsis: true,
      render: (value: unknown, record: RecordJson) =>
        editing?.id === record._id && editing.key === f.key ? (
          <InlineCell
            app={app}
            form={form.key}
            field={f}
            record={record}
            onError={(text) => message.error(text)}
            onDone={async (saved) => {
              setEditing(null);
              if (saved) {
                message.success(t("fill.saved"));
                await client.invalidateQueries({ queryKey: ["records", app.key, form.key] });
                await client.invalidateQueries({ queryKey: ["record", app.key, form.key, record._id] });
              }
            }}
          />
        ) : (
          <FieldValue field={displayField(f, display)} value={value} compact />
        ),
      onCell: (record: RecordJson) => ({
        "data-field": f.key,
        onClick: (e: React.MouseEvent) => {
          if (!inline || !cellEditable(f.key)) return;
          e.stopPropagation();
          setEditing({ id: record._id, key: f.key });
        },
      }),
    }));
  const canCreate = permissions.data?.actions.includes("create");
  const canDelete = permissions.data?.actions.includes("delete");
  const canEdit = permissions.data?.actions.includes("edit");
  const byKey = new Map(visibleFields.map((f) => [f.key, f]));
  // Inline editing follows the same rules as the fill page: typed-in fields the role may change.
  const cellEditable = (key: string) => {
    const f = byKey.get(key);
    return !!f && !!canEdit && EDITABLE_TYPES.has(f.type) && !isComputed(f) && permissions.data?.fields[key] !== "read_only" && !f.readonly_when;
  };

  const canExport = permissions.data?.actions.includes("export");
  const canImport = permissions.data?.actions.includes("import");
  const manageLinks = canManageLinks(permissions.data, !!user?.is_admin);

  async function exportAs(format: "xlsx" | "csv") {
    setExporting(true);
    try {
      // What the grid shows: its filter and search, its sort, its columns in their order.
      const fields = visibleFields.filter((f) => columnKeys.includes(f.key)).map((f) => f.key);
      const name = await downloadExport(app.key, form!.key, { format, filter: exportFilter(expr, q, form!.title_field), sort, fields });
      message.success(t("views.exported", { name }));
    } catch (e) {
      message.error(e instanceof ApiError ? e.message : t("errors.generic"));
    } finally {
      setExporting(false);
    }
  }

  const moreItems: MenuProps["items"] = [
    ...(canExport
      ? [
          { key: "xlsx", icon: <DownloadOutlined />, label: <span data-testid="export-xlsx">{t("views.exportXlsx")}</span>, onClick: () => exportAs("xlsx") },
          { key: "csv", icon: <DownloadOutlined />, label: <span data-testid="export-csv">{t("views.exportCsv")}</span>, onClick: () => exportAs("csv") },
        ]
      : []),
    ...(canImport
      ? [{ key: "import", icon: <UploadOutlined />, label: <span data-testid="import-open">{t("views.import")}</span>, onClick: () => setImportOpen(true) }]
      : []),
    ...(manageLinks
      ? [
          {
            key: "links",
            icon: <LinkOutlined />,
            label: <span data-testid="links-open">{t("views.links")}</span>,
            onClick: () => navigate(`/apps/${app.key}/${form!.key}/links`),
          },
        ]
      : []),
  ];

  async function deleteSelected() {
    setDeleting(true);
    let done = 0;
    try {
      for (const recordId of selected) {
        await api.remove(app.key, form!.key, recordId);
        done += 1;
      }
      message.success(t("record.deletedCount", { count: done }));
    } catch (e) {
      message.error(e instanceof ApiError ? e.message : t("errors.generic"));
    } finally {
      setSelected([]);
      setDeleting(false);
      await client.invalidateQueries({ queryKey: ["records", app.key, form!.key] });
      await client.invalidateQueries({ queryKey: ["recycle-bin", app.key, form!.key] });
    }
  }

  return (
    <>
      <Typography.Title level={4} style={{ marginTop: 0 }}>
        {labelText(form.name, i18n.language, form.key)}
      </Typography.Title>
      <div className="jimu-toolbar">
        {user?.is_admin && (
          <Button icon={<FormOutlined />} onClick={() => navigate(`/apps/${app.key}/${form.key}/design`)} data-testid="design-form">
            {t("designer.open")}
          </Button>
        )}
        {canCreate && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate(`/apps/${app.key}/${form.key}/new`)} data-testid="add-record">
            {t("app.add")}
          </Button>
        )}
        <Input.Search
          allowClear
          placeholder={t("grid.search")}
          style={{ width: 200 }}
          defaultValue={q}
          onSearch={(value) => setView({ q: value, page: 1 })}
          data-testid="grid-search"
        />
        <Popover
          trigger="click"
          open={filterOpen}
          onOpenChange={setFilterOpen}
          placement="bottomLeft"
          content={
            <FilterBuilder
              fields={visibleFields}
              value={filter}
              onApply={(model) => {
                setView({ where: model, page: 1 });
                setFilterOpen(false);
              }}
            />
          }
        >
          <Badge count={filter.conditions.length} size="small">
            <Button icon={<FilterOutlined />} data-testid="grid-filter">
              {t("grid.filter")}
            </Button>
          </Badge>
        </Popover>
        <Popover
          trigger="click"
          placement="bottomLeft"
          content={
            <Checkbox.Group
              style={{ display: "flex", flexDirection: "column", maxHeight: 360, overflow: "auto" }}
              value={columnKeys}
              onChange={(keys) => setChosen(keys as string[])}
              options={visibleFields.map((f) => ({ value: f.key, label: fieldLabel(f, i18n.language) }))}
              data-testid="column-chooser"
            />
          }
        >
          <Button icon={<SettingOutlined />} data-testid="grid-columns">
            {t("grid.columns")}
          </Button>
        </Popover>
        {canEdit && (
          <Button
            icon={<EditOutlined />}
            type={inline ? "primary" : "default"}
            ghost={inline}
            onClick={() => {
              setInline(!inline);
              setEditing(null);
            }}
            data-testid="inline-toggle"
          >
            {inline ? t("grid.inlineOn") : t("grid.inline")}
          </Button>
        )}
        {canDelete && selected.length > 0 && (
          <Popconfirm title={t("record.confirmDeleteSelected", { count: selected.length })} onConfirm={deleteSelected}>
            <Button danger loading={deleting} data-testid="delete-selected">
              {t("record.deleteSelected", { count: selected.length })}
            </Button>
          </Popconfirm>
        )}
        {canDelete && (
          <Button icon={<DeleteOutlined />} onClick={() => setBinOpen(true)} data-testid="open-recycle-bin">
            {t("record.recycleBin")}
          </Button>
        )}
        {moreItems.length > 0 && (
          <Dropdown trigger={["click"]} menu={{ items: moreItems }}>
            <Button loading={exporting} data-testid="grid-more">
              {t("views.more")} <DownOutlined />
            </Button>
          </Dropdown>
        )}
        <Typography.Text type="secondary" data-testid="grid-total">
          {records.data ? t("grid.total", { total: records.data.total ?? 0, count: records.data.total ?? 0 }) : ""}
        </Typography.Text>
        {expr && (
          <Typography.Text code data-testid="filter-expr">
            {expr}
          </Typography.Text>
        )}
      </div>
      {linked && (
        <Alert
          type="info"
          showIcon
          closable={{ onClose: () => setParams((current) => withParam(current, "filter", null)) }}
          title={t("reports.linkedFilter", { filter: linked })}
          style={{ marginBottom: 12 }}
          data-testid="records-linked-filter"
        />
      )}
      {records.isError && (
        <Alert type="error" showIcon title={records.error instanceof ApiError ? records.error.message : t("errors.generic")} style={{ marginBottom: 12 }} />
      )}
      <Table<RecordJson>
        rowKey="_id"
        size="middle"
        scroll={{ x: "max-content" }}
        loading={records.isFetching}
        dataSource={records.data?.items ?? []}
        columns={columns}
        rowSelection={
          canDelete
            ? {
                selectedRowKeys: selected,
                onChange: (keys) => setSelected(keys as number[]),
                columnWidth: 40,
              }
            : undefined
        }
        onRow={(record) => ({
          onClick: (e) => {
            // Ticking a row's checkbox selects it; only the rest of the row opens the drawer.
            if ((e.target as HTMLElement).closest(".ant-table-selection-column")) return;
            setParams((current) => withParam(current, "open", String(record._id)));
          },
          style: { cursor: "pointer" },
        })}
        onChange={(_, __, sorter, extra: TableCurrentDataSource<RecordJson>) => {
          if (extra.action !== "sort") return; // a page change also calls this
          const s = sorter as SorterResult<RecordJson>;
          const next = sortAfterClick(sortNow.current, String(s.columnKey));
          sortNow.current = next;
          setShownSort(next);
          setView({ sort: next, page: 1 });
        }}
        pagination={{
          current: page,
          pageSize: PAGE_SIZE,
          total: records.data?.total ?? 0,
          showSizeChanger: false,
          onChange: setPage,
        }}
        data-testid="records-grid"
      />
      <ImportModal
        app={app.key}
        form={form}
        open={importOpen}
        onClose={() => setImportOpen(false)}
        onImported={() => void client.invalidateQueries({ queryKey: ["records", app.key, form.key] })}
      />
      <RecycleBin app={app} form={form} open={binOpen} onClose={() => setBinOpen(false)} />
      <RecordDrawer
        app={app}
        form={form}
        id={open ? Number(open) : null}
        permissions={permissions.data}
        onClose={() => setParams((current) => withParam(current, "open", null))}
        display={display}
      />
    </>
  );
}
