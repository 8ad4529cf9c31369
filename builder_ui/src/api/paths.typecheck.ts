/**
 * Compile-time checks of the typed client (run by `tsc -b` in the build): paths the server's
 * OpenAPI document has compile, others do not; bodies and answers have the shapes the document
 * gives them. Nothing here runs.
 */
import { admin } from "./admin";
import { apiPath, type AnswerOf, type BodyOf } from "./client";

const app: string = "crm";
const id = 12;
export const served = [
  apiPath("/apps"),
  apiPath(`/apps/${app}/forms/${app}/records/${id}/history`),
  apiPath(`/public/${app}/live`),
  apiPath(`/roles/${id}/members`),
];
// @ts-expect-error -- no such route: a renamed or removed endpoint breaks the build
export const unknown = apiPath("/apps/crm/forms/customer/recordz");
// @ts-expect-error -- nor with parameters filled in from variables
export const unknownTemplate = apiPath(`/apps/${app}/forms/${app}/recordz`);
// @ts-expect-error -- a parameter is one path segment
export const tooDeep = apiPath("/apps/crm/x/forms/customer/records");
// @ts-expect-error -- the API prefix is added by `request`, never written at a call site
export const prefixed = apiPath("/api/v1/apps");

export const member: BodyOf<"/api/v1/roles/{role_id}/members", "post"> = { user_id: 7 };
// @ts-expect-error -- the body model has no such property
export const badMember: BodyOf<"/api/v1/roles/{role_id}/members", "post"> = { username: "rep_a1" };

export const installed: AnswerOf<"/api/v1/catalog/{pack}/install", "post"> = { key: "crm", _revision: 1 };
// @ts-expect-error -- an answer has the keys its response model declares, no others
export const misread: AnswerOf<"/api/v1/catalog/{pack}/install", "post"> = { key: "crm", revision: 1 };
export const recordId: AnswerOf<"/api/v1/apps/{app}/forms/{form}/records/{record_id}", "get">["_id"] = 1;
// @ts-expect-error -- a record's system keys are typed (its field values are open)
export const badId: AnswerOf<"/api/v1/apps/{app}/forms/{form}/records/{record_id}", "get">["_id"] = "1";

// `admin.addMember` answers the member it added, not a role.
export const added: Awaited<ReturnType<typeof admin.addMember>> = { id: 3, user_id: 7, department_id: null };
// @ts-expect-error -- a member has no role key (the answer is a member, not a role)
export const addedKey: Awaited<ReturnType<typeof admin.addMember>>["key"] = "sales";
