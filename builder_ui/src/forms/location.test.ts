import { describe, expect, it } from "vitest";
import { locationValue } from "./location";

describe("location values", () => {
  it("is null when nothing is filled in", () => {
    expect(locationValue({})).toBeNull();
    expect(locationValue({ address: "   " })).toBeNull();
  });

  it("keeps coordinates and trims the place", () => {
    expect(locationValue({ lat: 22.543096, lng: 114.057865, address: " 深圳市民中心 " })).toEqual({
      lat: 22.543096,
      lng: 114.057865,
      address: "深圳市民中心",
    });
  });

  it("keeps a half-filled pair so the server can say what is missing", () => {
    expect(locationValue({ lat: 31.2 })).toEqual({ lat: 31.2, lng: undefined, address: null });
  });
});
