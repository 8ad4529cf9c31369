/** Texts of the rule designer's owner field picker (assign_owner `set_field`) and the "records it
 * pointed at before" switch of an update target (`include_old`), `ruleTargets.*`, in Chinese and
 * English; included by messages.ts. */
export const ruleTargetsZh = {
  setField: "同时填入字段",
  setFieldHelp: "把分配到的负责人也填入本表单的这个人员字段（例如“负责人”），列表中即可看到。",
  setFieldNone: "不填入",
  includeOld: "同时更新修改前关联的记录",
  includeOldHelp: "关联字段被改为另一条记录时，原来关联的记录也按修改前的值重新计算（例如合同换了客户，原客户的汇总也会更新）。",
};

export const ruleTargetsEn: typeof ruleTargetsZh = {
  setField: "Also fill in field",
  setFieldHelp: "The assigned owner is also put into this person field of the form (such as Owner), so lists show it.",
  setFieldNone: "Do not fill in",
  includeOld: "Also update the records it pointed at before",
  includeOldHelp: "When the relation is changed to another record, the record it pointed at before is recomputed too, as of the old value (a contract moved to another customer re-sums the previous customer).",
};
