/** Texts of the phone work (`phone.*`, issue 16): quick add on the app home, the sticky submit
 * bar, the location's place and the empty pickers' hints, in Chinese and English; included by
 * messages.ts. */
export const phoneZh = {
  quickAdd: "快速填报",
  quickAddEntry: "新建{{form}}",
  lastWorkedWith: "已带出你最近填报的{{field}}，可修改",
  locating: "定位中…",
  placeLooking: "正在解析地点…",
  placeConfirm: "请确认地点，或直接修改",
  placeTypeIt: "请填写地点",
  emptyOwn: "你只能看到自己负责的{{form}}，目前还没有",
  emptyScoped: "你只能看到有权限的{{form}}，目前还没有",
  emptyNone: "还没有{{form}}",
  addOne: "新建{{form}}",
  picked: "已选择新建的{{form}}：{{title}}",
};

export const phoneEn: typeof phoneZh = {
  quickAdd: "Quick entry",
  quickAddEntry: "New {{form}}",
  lastWorkedWith: "Filled with the {{field}} of your latest entry; you may change it",
  locating: "Locating…",
  placeLooking: "Looking up the place…",
  placeConfirm: "Confirm the place, or change it",
  placeTypeIt: "Type the place",
  emptyOwn: "You only see the {{form}} records you own, and you have none yet",
  emptyScoped: "You only see the {{form}} records you have access to, and there are none yet",
  emptyNone: "No {{form}} records yet",
  addOne: "New {{form}}",
  picked: "Picked the new {{form}}: {{title}}",
};
