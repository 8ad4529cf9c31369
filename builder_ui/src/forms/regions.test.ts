import { describe, expect, it } from "vitest";
import { addressFromCodes, codesOf, regionDepth, regionOptions, type AreaList } from "./regions";

const AREAS: AreaList = {
  province_list: { "110000": "北京市", "440000": "广东省" },
  city_list: { "110100": "北京市", "440100": "广州市", "440300": "深圳市" },
  county_list: { "110108": "海淀区", "440106": "天河区", "440305": "南山区" },
};

describe("regions", () => {
  it("builds the province/city/district tree down to the field's level", () => {
    const tree = regionOptions(AREAS);
    expect(tree.map((p) => p.label)).toEqual(["北京市", "广东省"]);
    const guangdong = tree[1];
    expect(guangdong.children?.map((c) => c.label)).toEqual(["广州市", "深圳市"]);
    expect(guangdong.children?.[1].children).toEqual([{ value: "440305", label: "南山区" }]);
    expect(regionOptions(AREAS, 1).every((p) => p.children === undefined)).toBe(true);
    expect(regionOptions(AREAS, 2)[1].children?.[0].children).toBeUndefined();
    expect([regionDepth("province"), regionDepth("city"), regionDepth("district"), regionDepth("detail"), regionDepth(undefined)]).toEqual([1, 2, 3, 3, 3]);
  });

  it("turns picked codes into the address value and back", () => {
    const value = addressFromCodes(AREAS, ["440000", "440300", "440305"], "科技园 1 号");
    expect(value).toEqual({ province: "广东省", city: "深圳市", district: "南山区", detail: "科技园 1 号", code: "440305" });
    expect(codesOf(AREAS, value)).toEqual(["440000", "440300", "440305"]);
    expect(codesOf(AREAS, { province: "北京市", city: "北京市", district: "海淀区" })).toEqual(["110000", "110100", "110108"]);
    expect(codesOf(AREAS, { code: "440305" }, 2)).toEqual(["440000", "440300"]);
    expect(codesOf(AREAS, null)).toEqual([]);
    expect(addressFromCodes(AREAS, [], "")).toBeNull();
    expect(addressFromCodes(AREAS, [], "只有详细地址")).toEqual({ province: null, city: null, district: null, detail: "只有详细地址", code: null });
  });
});
