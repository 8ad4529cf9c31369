/** Texts of the password an administrator set, which must be changed at the next sign-in
 * (`pw.*`, issue 16), in Chinese and English; included by messages.ts. */
export const pwZh = {
  mustTitle: "请先修改密码",
  mustHelp: "你的密码由管理员设置，需要改成只有你知道的新密码后才能继续使用。",
  signOut: "退出登录",
  generatedHelp: "请把密码告诉「{{name}}」：其下次登录时需要先修改这个密码。",
};

export const pwEn: typeof pwZh = {
  mustTitle: "Change your password first",
  mustHelp: "An administrator set your password: change it to one only you know to continue.",
  signOut: "Sign out",
  generatedHelp: "Give the password to “{{name}}”: they must change it when they next sign in.",
};
