/**
 * A location field's input: latitude and longitude (typed, or taken from the device's position
 * with the browser's permission — how a field worker records where they are on a phone) and a
 * readable place. After 定位 the server's reverse geocoder (`GET /geo/regeo`, when one is
 * configured) fills the place in, unless one is typed already; the user confirms or changes it,
 * and types it when there is no provider. The value is the engine's `{lat, lng, address}`; an
 * empty pair is no value at all.
 */
import { AimOutlined } from "@ant-design/icons";
import { Button, Input, InputNumber, Space, Typography } from "antd";
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import type { FieldDef } from "../api/types";
import { locationValue, type LocationValue } from "../forms/location";
import { placeOf } from "../forms/phone";

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
  // What the place text says after 定位: being looked up, found (confirm it), or type it (why).
  const [place, setPlace] = useState<{ state: "looking" | "found" | "type"; why?: string | null } | null>(null);
  // The value as last given: a place answer arriving later must not undo what was typed meanwhile.
  const latest = useRef(value);
  latest.current = value;
  const set = (patch: Partial<LocationValue>) => onChange(locationValue({ ...(latest.current ?? {}), ...patch }));
  const lookUp = async (lat: number, lng: number) => {
    setPlace({ state: "looking" });
    try {
      const found = await placeOf(lat, lng);
      if (found.address && !latest.current?.address) {
        set({ lat, lng, address: found.address });
        setPlace({ state: "found" });
      } else setPlace(found.address ? { state: "found" } : { state: "type", why: found.message });
    } catch {
      setPlace({ state: "type" });
    }
  };
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
        const lat = Number(position.coords.latitude.toFixed(6));
        const lng = Number(position.coords.longitude.toFixed(6));
        latest.current = locationValue({ ...(latest.current ?? {}), lat, lng });
        onChange(latest.current);
        void lookUp(lat, lng);
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
      {place && (
        <Typography.Text type="secondary" data-testid={`location-${field.key}-place`}>
          {place.state === "looking" ? t("phone.placeLooking") : place.state === "found" ? t("phone.placeConfirm") : place.why || t("phone.placeTypeIt")}
        </Typography.Text>
      )}
      <Button icon={<AimOutlined />} loading={locating} onClick={locate} disabled={disabled} data-testid={`location-${field.key}-locate`}>
        {t("inputs.locate")}
      </Button>
      {problem && <Typography.Text type="danger">{problem}</Typography.Text>}
    </Space>
  );
}
