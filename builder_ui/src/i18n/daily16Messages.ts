/** Texts of the issue-16 leftovers (`daily16.*`): the 通讯录's "must change password" tag, the
 * fill page of a create-only (填报) form and the designer's refused key rename, in Chinese and
 * English; included by messages.ts. */
export const daily16Zh = {
  mustChange: "需改密",
  mustChangeHelp: "管理员设置的密码，其下次登录时需要先修改",
  fillOnlySaved: "已提交。你的角色只能填报，提交后不能查看这条记录。",
  keyInUse: "标识 {{key}} 还在被使用：{{places}}。请先改掉这些引用，再修改标识。",
  keyUsePlace: "{{name}}（{{property}}）",
  formValidations: "表单校验",
  keyUse_expr: "公式",
  keyUse_default: "默认值公式",
  keyUse_visible_when: "显示条件",
  keyUse_readonly_when: "只读条件",
  keyUse_validation: "校验条件",
  keyUse_relation: "查找/汇总",
  keyUse_linkage: "数据联动条件",
};

export const daily16En: typeof daily16Zh = {
  mustChange: "must change password",
  mustChangeHelp: "An administrator set this password: it must be changed at the next sign-in",
  fillOnlySaved: "Submitted. Your role may fill in this form but not view what was submitted.",
  keyInUse: "The key {{key}} is still used by: {{places}}. Change those references first, then the key.",
  keyUsePlace: "{{name}} ({{property}})",
  formValidations: "Form validations",
  keyUse_expr: "formula",
  keyUse_default: "default formula",
  keyUse_visible_when: "show condition",
  keyUse_readonly_when: "read-only condition",
  keyUse_validation: "validation",
  keyUse_relation: "lookup/rollup",
  keyUse_linkage: "data linkage condition",
};
