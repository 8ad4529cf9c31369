import { describe, expect, it } from "vitest";
import { currencySign } from "./display";
import { fileRefs, fileUrl, isImage, sizeText, uploadPath } from "./files";

describe("files", () => {
  it("downloads through the record when it is known, else from the uploader's own files", () => {
    expect(fileUrl(7, { app: "crm", form: "customer", id: 12 })).toBe("/api/v1/apps/crm/forms/customer/records/12/files/7");
    expect(fileUrl(7, null)).toBe("/api/v1/files/7");
  });

  it("uploads to the user's or the public link's endpoint", () => {
    expect(uploadPath({ kind: "user" }, "photo", "image")).toBe("/files?field_type=image");
    expect(uploadPath({ kind: "public", token: "a b" }, "photo", "image")).toBe("/public/a%20b/files?field=photo");
  });

  it("reads file values and their kinds", () => {
    expect(fileRefs([{ file_id: 1, name: "a.pdf" }, 2, "x", null])).toEqual([{ file_id: 1, name: "a.pdf" }, { file_id: 2 }]);
    expect(fileRefs(null)).toEqual([]);
    expect(isImage({ mime: "image/png" })).toBe(true);
    expect(isImage({ mime: "image/svg+xml" })).toBe(false);
    expect(isImage({ mime: null })).toBe(false);
    expect([sizeText(980), sizeText(12_600), sizeText(4_718_592), sizeText(null)]).toEqual(["980 B", "12.3 KB", "4.5 MB", ""]);
  });

  it("gives each currency its sign", () => {
    expect([currencySign("CNY"), currencySign("USD"), currencySign("EUR"), currencySign("CHF"), currencySign()]).toEqual(["¥", "$", "€", "CHF", "¥"]);
  });
});
