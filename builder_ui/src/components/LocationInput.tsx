/**
 * A location field's input: latitude and longitude (typed, or taken from the device's position
 * with the browser's permission — how a field worker records where they are on a phone) and an
 * optional place description. The value is the engine's `{lat, lng, address}`; an empty pair is
 * no value at all.
 */
import { AimOutlined } from "@ant-design/icons";
import { Button, Input, InputNumber, Space, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import type { FieldDef } from "../api/types";
import { locationValue, type LocationValue } from "../forms/location";

interface Props {
  id?: string;
  field: FieldDef;
  value: LocationValue | null | undefined;
  onChange(value: LocationValue | null): void;
  disabled?: boolean;
  autoFocus?: boolean;
}

export default function LocationInput({ id, field, value, onChange, disabled, autoFocus }: Props) {
  const { t } = useTranslation();
  const [locating, setLocating] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const set = (patch: Partial<LocationValue>) => onChange(locationValue({ ...(value ?? {}), ...patch }));
  const locate = () => {
    if (!navigator.geolocation) {
      setProblem(t("inputs.locationUnavailable"));
      return;
    }
    setLocating(true);
    setProblem(null);
    navigator.geolocation.getCurrentPosition(
      (position) => {
        setLocating(false);
        set({ lat: Number(position.coords.latitude.toFixed(6)), lng: Number(position.coords.longitude.toFixed(6)) });
      },
      () => {
        setLocating(false);
        setProblem(t("inputs.locationDenied"));
      },
      { enableHighAccuracy: true, timeout: 15_000 },
    );
  };
  return (
    <Space orientation="vertical" style={{ width: "100%" }} data-testid={`location-${field.key}`}>
      <Space.Compact style={{ width: "100%" }}>
        <InputNumber
          id={id}
          autoFocus={autoFocus}
          style={{ width: "50%" }}
          min={-90}
          max={90}
          step={0.000001}
          placeholder={t("inputs.latitude")}
          value={value?.lat ?? null}
          onChange={(lat) => set({ lat: lat ?? undefined })}
          disabled={disabled}
          inputMode="decimal"
          data-testid={`location-${field.key}-lat`}
        />
        <InputNumber
          style={{ width: "50%" }}
          min={-180}
          max={180}
          step={0.000001}
          placeholder={t("inputs.longitude")}
          value={value?.lng ?? null}
          onChange={(lng) => set({ lng: lng ?? undefined })}
          disabled={disabled}
          inputMode="decimal"
          data-testid={`location-${field.key}-lng`}
        />
      </Space.Compact>
      <Input
        placeholder={t("inputs.locationPlace")}
        value={value?.address ?? ""}
        onChange={(e) => set({ address: e.target.value })}
        disabled={disabled}
        data-testid={`location-${field.key}-address`}
      />
      <Button icon={<AimOutlined />} loading={locating} onClick={locate} disabled={disabled} data-testid={`location-${field.key}-locate`}>
        {t("inputs.locate")}
      </Button>
      {problem && <Typography.Text type="danger">{problem}</Typography.Text>}
    </Space>
  );
}
