/** China's provinces, cities and districts for address fields: cascader options from the
 * division tables of `@vant/area-data` (6-digit GB/T 2260 codes), loaded on first use so the
 * tables stay out of the main bundle, and conversions between an address value and codes. */

export interface AreaList {
  province_list: Record<string, string>;
  city_list: Record<string, string>;
  county_list: Record<string, string>;
}

export interface RegionOption {
  value: string;
  label: string;
  children?: RegionOption[];
}

export type AddressLevel = "province" | "city" | "district" | "detail";

/** How many cascader columns a field of `level` picks (a detail address picks a district too). */
export function regionDepth(level: AddressLevel | undefined): 1 | 2 | 3 {
  return level === "province" ? 1 : level === "city" ? 2 : 3;
}

/** Cascader options down to `depth` levels: cities under the province of their first two code
 * digits, districts under the city of their first four. */
export function regionOptions(areas: AreaList, depth: 1 | 2 | 3 = 3): RegionOption[] {
  const provinces = new Map<string, RegionOption>();
  for (const [code, name] of Object.entries(areas.province_list)) provinces.set(code.slice(0, 2), { value: code, label: name });
  if (depth > 1) {
    const cities = new Map<string, RegionOption>();
    for (const [code, name] of Object.entries(areas.city_list)) {
      const province = provinces.get(code.slice(0, 2));
      if (!province) continue;
      const city: RegionOption = { value: code, label: name };
      (province.children ??= []).push(city);
      cities.set(code.slice(0, 4), city);
    }
    if (depth > 2) {
      for (const [code, name] of Object.entries(areas.county_list)) {
        const city = cities.get(code.slice(0, 4));
        if (city) (city.children ??= []).push({ value: code, label: name });
      }
    }
  }
  return [...provinces.values()];
}

export interface AddressValue {
  province?: string | null;
  city?: string | null;
  district?: string | null;
  detail?: string | null;
  code?: string | null;
}

/** The address picked as codes (province, city, district), keeping the detail line; `code` is the
 * most specific one. */
export function addressFromCodes(areas: AreaList, codes: string[], detail?: string | null): AddressValue | null {
  const [province, city, district] = codes;
  const value: AddressValue = {
    province: province ? (areas.province_list[province] ?? null) : null,
    city: city ? (areas.city_list[city] ?? null) : null,
    district: district ? (areas.county_list[district] ?? null) : null,
    detail: detail || null,
    code: codes.length ? codes[codes.length - 1] : null,
  };
  return Object.values(value).some(Boolean) ? value : null;
}

/** The cascader's codes of a stored address: from its `code`, else by matching the names. */
export function codesOf(areas: AreaList, value: AddressValue | null | undefined, depth: 1 | 2 | 3 = 3): string[] {
  if (!value) return [];
  const code = value.code;
  if (code && /^\d{6}$/.test(code)) {
    const chain = [`${code.slice(0, 2)}0000`, `${code.slice(0, 4)}00`, code];
    const tables = [areas.province_list, areas.city_list, areas.county_list];
    const found: string[] = [];
    for (let i = 0; i < depth; i++) {
      if (!tables[i][chain[i]]) break;
      found.push(chain[i]);
    }
    if (found.length) return found;
  }
  const found: string[] = [];
  const named = (table: Record<string, string>, name: string | null | undefined, prefix: string) =>
    Object.entries(table).find(([c, n]) => n === name && c.startsWith(prefix))?.[0];
  const province = named(areas.province_list, value.province, "");
  if (!province) return found;
  found.push(province);
  const city = depth > 1 ? named(areas.city_list, value.city, province.slice(0, 2)) : undefined;
  if (!city) return found;
  found.push(city);
  const district = depth > 2 ? named(areas.county_list, value.district, city.slice(0, 4)) : undefined;
  if (district) found.push(district);
  return found;
}

let loading: Promise<AreaList> | null = null;

/** The division tables, fetched as their own chunk the first time an address input opens. */
export function loadAreas(): Promise<AreaList> {
  loading ??= import("@vant/area-data").then((m) => m.areaList);
  return loading;
}
