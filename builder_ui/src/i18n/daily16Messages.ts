/** Texts of the issue-16 leftovers (`daily16.*`): the 通讯录's "must change password" tag and
 * the fill page of a create-only (填报) form, in Chinese and English; included by messages.ts. */
export const daily16Zh = {
  mustChange: "需改密",
  mustChangeHelp: "管理员设置的密码，其下次登录时需要先修改",
  fillOnlySaved: "已提交。你的角色只能填报，提交后不能查看这条记录。",
};

export const daily16En: typeof daily16Zh = {
  mustChange: "must change password",
  mustChangeHelp: "An administrator set this password: it must be changed at the next sign-in",
  fillOnlySaved: "Submitted. Your role may fill in this form but not view what was submitted.",
};
