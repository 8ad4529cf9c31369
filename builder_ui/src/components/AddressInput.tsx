/** Address fields: province / city / district picked in a cascader (China's divisions, loaded on
 * first use) down to the field's `level`, plus the detail line for `detail` addresses. */
import { Cascader, Input, Space } from "antd";
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import type { FieldDef } from "../api/types";
import { addressFromCodes, codesOf, loadAreas, regionDepth, regionOptions, type AddressLevel, type AddressValue, type AreaList } from "../forms/regions";

interface Props {
  field: FieldDef;
  value: AddressValue | null | undefined;
  onChange(value: AddressValue | null): void;
  disabled?: boolean;
  autoFocus?: boolean;
  id?: string;
}

export default function AddressInput({ field, value, onChange, disabled, autoFocus, id }: Props) {
  const { t } = useTranslation();
  const [areas, setAreas] = useState<AreaList | null>(null);
  useEffect(() => {
    let live = true;
    loadAreas().then((loaded) => live && setAreas(loaded));
    return () => {
      live = false;
    };
  }, []);
  const level = (field.level as AddressLevel | undefined) ?? "detail";
  const depth = regionDepth(level);
  const options = useMemo(() => (areas ? regionOptions(areas, depth) : []), [areas, depth]);
  const codes = areas ? codesOf(areas, value, depth) : [];
  return (
    <Space.Compact direction="vertical" style={{ width: "100%" }} data-testid={`address-${field.key}`}>
      <Cascader
        id={id}
        autoFocus={autoFocus}
        disabled={disabled}
        loading={!areas}
        options={options}
        value={codes}
        changeOnSelect={false}
        showSearch
        placeholder={t(`inputs.region.${depth}`)}
        popupClassName="jimu-region-popup"
        onChange={(picked) => {
          if (!areas) return;
          onChange(addressFromCodes(areas, (picked ?? []).map(String), value?.detail));
        }}
        style={{ width: "100%" }}
        data-testid={`address-${field.key}-region`}
      />
      {level === "detail" && (
        <Input
          disabled={disabled}
          value={value?.detail ?? ""}
          placeholder={t("inputs.detail")}
          onChange={(e) => {
            const next = { ...(value ?? {}), detail: e.target.value || null };
            onChange(Object.values(next).some(Boolean) ? next : null);
          }}
          data-testid={`address-${field.key}-detail`}
        />
      )}
    </Space.Compact>
  );
}
