/** A location field's value as the engine takes it: `{lat, lng, address}`, or null when empty. */

export interface LocationValue {
  lat?: number;
  lng?: number;
  address?: string | null;
}

/**
 * The value to send for what the input holds: null while nothing is filled in; otherwise the
 * coordinates as typed (the server refuses a half-filled pair at the field) and the place text
 * without surrounding spaces (null when blank).
 */
export function locationValue(value: LocationValue): LocationValue | null {
  const address = value.address?.trim() ? value.address.trim() : null;
  const lat = value.lat ?? undefined;
  const lng = value.lng ?? undefined;
  if (lat === undefined && lng === undefined && address === null) return null;
  return { lat, lng, address };
}
