"""Generate the CRM pack's sample data (`sample_data.json`), deterministically.

Usage::

    python apps_catalog/crm/generate_sample_data.py [OUTPUT]

OUTPUT defaults to `sample_data.json` next to this script. The generator uses only the
standard library and one `random.Random(20261122)`, never the clock or a set's order, so two
runs write byte-identical files (the catalog tests check it).

The records are in the records API's input form: an integer `_id` per form (1..n), relations
as the target's `_id`, select values as option values, dates `YYYY-MM-DD`, money and numbers
as text with two decimals, percentages as fractions ("0.35"), subform rows as objects without
`_id`; user fields and computed fields (formula, lookup, rollup, serial, created_*) are left
out. Dates fall within 2025-01-01..2026-11-20: what already happened (signing, payments,
closed deals, follow-ups) is on or before the snapshot's "today", 2026-06-30; what is planned
(expected closes, next follow-ups, contract ends) may come later.

The snapshot's "today" is also in `sample_dates.json` next to the data: installing the pack
with sample data moves its dates to the install day (`engine.catalog.move_sample_dates`: June
2026 becomes the install month, in the organisation's time zone), so "this month" and "the
last 12 months" hold data whenever the pack is installed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

SEED = 20261122
FIRST_DAY = dt.date(2025, 1, 1)
TODAY = dt.date(2026, 6, 30)
LAST_DAY = dt.date(2026, 11, 20)
CENT = Decimal("0.01")

CUSTOMERS = 240
LEADS = 150
OPPORTUNITIES = 300
FOLLOWUPS = 600
CONTRACTS = 120

Record = dict[str, Any]
T = TypeVar("T")

# -- reference tables -------------------------------------------------------------------------
# Kept compact by hand: one line per group reads better than one line per entry.
# fmt: off

# (province, city, district, administrative code, city's pinyin initials, streets)
DISTRICTS: list[tuple[str, str, str, str, str, tuple[str, ...]]] = [
    ("北京市", "北京市", "朝阳区", "110105", "bj", ("建国路", "东三环中路", "望京街")),
    ("北京市", "北京市", "海淀区", "110108", "bj", ("中关村大街", "上地十街", "知春路")),
    ("上海市", "上海市", "浦东新区", "310115", "sh", ("世纪大道", "张衡路", "陆家嘴环路")),
    ("上海市", "上海市", "闵行区", "310112", "sh", ("沪闵路", "七莘路")),
    ("天津市", "天津市", "滨海新区", "120116", "tj", ("第三大街", "黄海路")),
    ("重庆市", "重庆市", "渝北区", "500112", "cq", ("金开大道", "新南路")),
    ("广东省", "深圳市", "南山区", "440305", "sz", ("深南大道", "科技南十二路", "南海大道")),
    ("广东省", "深圳市", "福田区", "440304", "sz", ("深南中路", "福华三路", "益田路")),
    ("广东省", "广州市", "天河区", "440106", "gz", ("天河路", "体育西路", "华夏路")),
    ("浙江省", "杭州市", "西湖区", "330106", "hz", ("文三路", "天目山路", "古墩路")),
    ("浙江省", "杭州市", "滨江区", "330108", "hz", ("江南大道", "滨盛路")),
    ("浙江省", "宁波市", "鄞州区", "330212", "nb", ("天童南路", "四明中路")),
    ("江苏省", "苏州市", "吴中区", "320506", "sz", ("吴中大道", "东吴北路")),
    ("江苏省", "苏州市", "姑苏区", "320508", "sz", ("人民路", "干将西路")),
    ("江苏省", "南京市", "鼓楼区", "320106", "nj", ("中山北路", "北京西路")),
    ("江苏省", "南京市", "江宁区", "320115", "nj", ("双龙大道", "胜太路")),
    ("四川省", "成都市", "武侯区", "510107", "cd", ("人民南路四段", "武侯祠大街")),
    ("四川省", "成都市", "锦江区", "510104", "cd", ("春熙路", "东大街")),
    ("湖北省", "武汉市", "洪山区", "420111", "wh", ("珞喻路", "光谷大道")),
    ("湖北省", "武汉市", "江汉区", "420103", "wh", ("解放大道", "新华路")),
    ("陕西省", "西安市", "雁塔区", "610113", "xa", ("科技路", "高新路", "小寨东路")),
    ("山东省", "青岛市", "黄岛区", "370211", "qd", ("长江中路", "井冈山路")),
    ("山东省", "青岛市", "市南区", "370202", "qd", ("香港中路", "东海西路")),
    ("山东省", "济南市", "历下区", "370102", "jn", ("经十路", "泉城路")),
    ("福建省", "厦门市", "思明区", "350203", "xm", ("鹭江道", "湖滨南路")),
    ("湖南省", "长沙市", "岳麓区", "430104", "cs", ("麓山南路", "枫林三路")),
    ("河南省", "郑州市", "金水区", "410105", "zz", ("花园路", "金水路")),
    ("辽宁省", "沈阳市", "和平区", "210102", "sy", ("南京北街", "青年大街")),
    ("安徽省", "合肥市", "蜀山区", "340104", "hf", ("长江西路", "黄山路")),
]

# A company's trade name (字号) and its pinyin, used for the e-mail domain.
TRADE_NAMES: list[tuple[str, str]] = [
    ("恒信", "hengxin"), ("华创", "huachuang"), ("鼎盛", "dingsheng"), ("瑞丰", "ruifeng"),
    ("宏达", "hongda"), ("金桥", "jinqiao"), ("远航", "yuanhang"), ("博元", "boyuan"),
    ("中联", "zhonglian"), ("天润", "tianrun"), ("嘉禾", "jiahe"), ("永泰", "yongtai"),
    ("新锐", "xinrui"), ("卓越", "zhuoyue"), ("星河", "xinghe"), ("盛世", "shengshi"),
    ("汇通", "huitong"), ("海纳", "haina"), ("君和", "junhe"), ("启明", "qiming"),
    ("鸿运", "hongyun"), ("凯瑞", "kairui"), ("诚信", "chengxin"), ("佳美", "jiamei"),
    ("安和", "anhe"), ("腾跃", "tengyue"), ("聚力", "juli"), ("蓝海", "lanhai"),
    ("云帆", "yunfan"), ("泽润", "zerun"), ("信达", "xinda"), ("景程", "jingcheng"),
    ("锦华", "jinhua"), ("同创", "tongchuang"), ("立本", "liben"), ("万融", "wanrong"),
    ("富源", "fuyuan"), ("恒远", "hengyuan"), ("长青", "changqing"), ("瑞祥", "ruixiang"),
    ("华景", "huajing"), ("优品", "youpin"), ("德润", "derun"), ("众合", "zhonghe"),
    ("科达", "keda"), ("普瑞", "purui"), ("和盛", "hesheng"), ("领航", "linghang"),
    ("睿智", "ruizhi"), ("祥和", "xianghe"), ("泓源", "hongyuan"), ("九州", "jiuzhou"),
    ("荣昌", "rongchang"), ("国信", "guoxin"), ("中科", "zhongke"), ("新源", "xinyuan"),
    ("宏图", "hongtu"), ("天宇", "tianyu"), ("金鼎", "jinding"), ("百川", "baichuan"),
    ("英华", "yinghua"), ("世纪", "shiji"), ("华夏", "huaxia"), ("博瑞", "borui"),
    ("海川", "haichuan"), ("盈科", "yingke"), ("方圆", "fangyuan"), ("中汇", "zhonghui"),
    ("尚品", "shangpin"), ("钧天", "juntian"), ("润泽", "runze"), ("广源", "guangyuan"),
    ("明德", "mingde"), ("三禾", "sanhe"), ("东升", "dongsheng"), ("正元", "zhengyuan"),
    ("亿丰", "yifeng"), ("群英", "qunying"), ("致远", "zhiyuan"), ("合众", "hezhong"),
]

# Industry option value -> business descriptions that follow the trade name.
BUSINESSES: dict[str, list[str]] = {
    "manufacturing": ["精密制造", "机械设备", "电子科技", "新材料", "汽车零部件", "包装材料", "五金制品", "智能装备"],
    "retail": ["商贸", "百货", "连锁超市", "电子商务", "食品贸易", "服饰"],
    "internet": ["网络科技", "信息技术", "软件", "数据科技", "互动娱乐", "云计算"],
    "finance": ["投资管理", "融资租赁", "资产管理", "保险代理", "商业保理"],
    "education": ["教育科技", "文化传播", "职业培训", "教育咨询"],
    "healthcare": ["医疗器械", "生物科技", "医药", "健康管理", "医疗科技"],
    "logistics": ["物流", "供应链管理", "国际货运代理", "仓储服务", "运输"],
    "other": ["建筑工程", "环保科技", "餐饮管理", "酒店管理", "物业管理", "广告传媒"],
}
INDUSTRY_WEIGHTS: dict[str, int] = {
    "manufacturing": 30, "retail": 14, "internet": 14, "finance": 7,
    "education": 6, "healthcare": 9, "logistics": 10, "other": 10,
}
COMPANY_SUFFIXES: list[tuple[str, int]] = [("有限公司", 80), ("股份有限公司", 14), ("集团有限公司", 6)]

SOURCES: list[tuple[str, int]] = [
    ("website", 25), ("trade_show", 18), ("referral", 22),
    ("telemarketing", 15), ("advertising", 10), ("other", 10),
]
LEVELS: list[tuple[str, int]] = [("A", 10), ("B", 25), ("C", 45), ("D", 20)]
PURCHASE_RANGE: dict[str, tuple[int, int]] = {
    "A": (1_000_000, 8_000_000), "B": (300_000, 1_000_000),
    "C": (50_000, 300_000), "D": (5_000, 50_000),
}
TAGS = ["key_account", "long_term", "price_sensitive", "new_customer", "to_activate"]
CUSTOMER_NOTES = [
    "年底有集中采购计划，需提前备货。",
    "对账期要求较高，希望月结 60 天。",
    "决策链较长，需同时对接采购部和技术部。",
    "去年合作过两个项目，整体满意度较高。",
    "对价格敏感，会同时比较多家供应商报价。",
    "计划明年扩建新厂区，后续需求较大。",
    "需要开具增值税专用发票。",
    "总部在外地，本地为分公司，大额采购需总部审批。",
    "老板亲自参与决策，沟通效率高。",
    "曾因交付延期投诉过一次，需重点维护。",
]

SURNAMES: list[tuple[str, str]] = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
    ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
    ("郭", "guo"), ("何", "he"), ("林", "lin"), ("罗", "luo"), ("高", "gao"),
    ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"),
    ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
    ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"),
    ("潘", "pan"), ("袁", "yuan"), ("蒋", "jiang"), ("蔡", "cai"), ("余", "yu"),
    ("杜", "du"), ("叶", "ye"), ("程", "cheng"), ("魏", "wei"), ("苏", "su"),
    ("吕", "lv"), ("丁", "ding"), ("沈", "shen"), ("任", "ren"), ("姚", "yao"),
    ("卢", "lu"), ("钟", "zhong"), ("姜", "jiang"), ("崔", "cui"), ("谭", "tan"),
    ("陆", "lu"), ("范", "fan"), ("汪", "wang"), ("廖", "liao"), ("石", "shi"),
    ("金", "jin"), ("贾", "jia"), ("夏", "xia"), ("方", "fang"), ("邹", "zou"),
    ("熊", "xiong"), ("白", "bai"), ("孟", "meng"), ("秦", "qin"), ("邱", "qiu"),
    ("侯", "hou"), ("江", "jiang"), ("薛", "xue"), ("雷", "lei"), ("龙", "long"),
    ("史", "shi"), ("陶", "tao"), ("贺", "he"), ("顾", "gu"), ("邵", "shao"),
    ("钱", "qian"), ("戴", "dai"), ("严", "yan"), ("欧阳", "ouyang"), ("孔", "kong"),
]
GIVEN: list[tuple[str, str]] = [
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
    ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"),
    ("明", "ming"), ("超", "chao"), ("秀", "xiu"), ("霞", "xia"), ("平", "ping"),
    ("刚", "gang"), ("英", "ying"), ("华", "hua"), ("玲", "ling"), ("建", "jian"),
    ("文", "wen"), ("斌", "bin"), ("宇", "yu"), ("浩", "hao"), ("凯", "kai"),
    ("鹏", "peng"), ("晨", "chen"), ("欣", "xin"), ("婷", "ting"), ("雪", "xue"),
    ("琳", "lin"), ("志", "zhi"), ("国", "guo"), ("红", "hong"), ("海", "hai"),
    ("亮", "liang"), ("飞", "fei"), ("慧", "hui"), ("佳", "jia"), ("思", "si"),
    ("雨", "yu"), ("子", "zi"), ("涵", "han"), ("睿", "rui"), ("博", "bo"),
    ("俊", "jun"), ("晓", "xiao"), ("春", "chun"), ("立", "li"), ("振", "zhen"),
    ("云", "yun"), ("辉", "hui"), ("嘉", "jia"), ("一", "yi"), ("诗", "shi"),
]
JOB_TITLES = [
    "总经理", "副总经理", "采购经理", "采购主管", "采购专员", "财务总监", "财务经理",
    "技术总监", "IT 经理", "行政主管", "运营总监", "项目经理", "生产经理", "仓储主管",
]
PRIMARY_TITLES = ["总经理", "采购经理", "采购总监", "副总经理", "运营总监"]
MOBILE_PREFIXES = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "176", "177", "178", "180", "181",
    "182", "183", "185", "186", "187", "188", "189", "191", "198", "199",
]
MAILBOXES = ["info", "sales", "contact", "service", "purchase", "admin", "office"]
FREE_MAIL = ["qq.com", "163.com", "126.com", "sina.com", "outlook.com"]

LEAD_STATUSES: list[tuple[str, int]] = [("new", 30), ("following", 35), ("converted", 20), ("invalid", 15)]
LEAD_NOTES: dict[str, list[str]] = {
    "new": [
        "官网留言咨询{topic}的报价，尚未联系。",
        "在展会上交换了名片，对{topic}感兴趣。",
        "广告落地页留资，希望了解{topic}。",
        "来电咨询{topic}，留下了联系方式。",
    ],
    "following": [
        "已电话沟通一次，客户正在内部评估{topic}预算。",
        "已发送产品资料，约定下周再次沟通{topic}。",
        "客户计划下季度启动{topic}，需持续跟进。",
        "已加微信，对方是技术负责人，关注{topic}的交付周期。",
    ],
    "converted": [
        "已转为正式客户，后续由客户经理跟进{topic}。",
        "需求明确，已建立客户档案并创建商机。",
    ],
    "invalid": [
        "电话多次无人接听，暂时无法联系。",
        "对方表示没有相关需求。",
        "留资信息有误，号码为空号。",
        "同行询价，非真实客户。",
    ],
}

TOPICS = [
    "ERP 系统升级", "仓储管理系统", "生产设备采购", "年度维保服务", "办公设备更新",
    "数据中心扩容", "客服系统建设", "门店数字化改造", "员工培训服务", "安防监控升级",
    "年度框架采购", "供应链协同平台", "移动办公平台", "智能仓储改造",
]
STAGES: list[tuple[str, int]] = [
    ("initial", 20), ("proposal", 20), ("negotiation", 15), ("won", 33), ("lost", 12),
]
WIN_RATES: dict[str, list[str]] = {
    "initial": ["0.10", "0.15", "0.20"],
    "proposal": ["0.30", "0.40", "0.50"],
    "negotiation": ["0.60", "0.70", "0.80"],
    "won": ["1.00"],
    "lost": ["0.00"],
}
DEAL_SIZE: dict[str, tuple[int, int]] = {
    "A": (200_000, 2_000_000), "B": (80_000, 600_000),
    "C": (20_000, 200_000), "D": (5_000, 60_000),
}

# (product, unit price range, quantity range, price step)
PRODUCTS: list[tuple[str, tuple[int, int], tuple[int, int], int]] = [
    ("企业管理软件许可（用户/年）", (800, 2400), (10, 200), 100),
    ("实施服务（人天）", (1500, 3000), (10, 120), 100),
    ("定制开发（人天）", (1800, 3500), (10, 80), 100),
    ("年度维保服务", (20000, 180000), (1, 1), 1000),
    ("服务器", (28000, 95000), (1, 8), 500),
    ("网络交换机", (3500, 26000), (2, 20), 100),
    ("工业平板电脑", (4800, 12000), (5, 60), 100),
    ("手持数据采集终端", (2600, 5800), (10, 100), 50),
    ("智能仓储货架（组）", (1200, 4500), (20, 300), 50),
    ("监控摄像头", (450, 2200), (10, 200), 10),
    ("云服务订阅（年）", (12000, 150000), (1, 3), 1000),
    ("培训服务（场）", (3000, 12000), (1, 10), 500),
    ("现场技术支持（次）", (800, 2000), (5, 40), 100),
    ("笔记本电脑", (4500, 9800), (5, 80), 100),
    ("多功能打印机", (2800, 15000), (1, 20), 100),
    ("收银终端", (2200, 6800), (2, 50), 100),
]
PRODUCT_INDEX = {product[0]: product for product in PRODUCTS}
# What a deal on each topic (or a renewal, "") sells.
TOPIC_PRODUCTS: dict[str, list[str]] = {
    "ERP 系统升级": ["企业管理软件许可（用户/年）", "实施服务（人天）", "定制开发（人天）", "培训服务（场）", "服务器"],
    "仓储管理系统": ["企业管理软件许可（用户/年）", "实施服务（人天）", "手持数据采集终端", "智能仓储货架（组）", "培训服务（场）"],
    "生产设备采购": ["工业平板电脑", "服务器", "网络交换机", "手持数据采集终端", "现场技术支持（次）"],
    "年度维保服务": ["年度维保服务", "现场技术支持（次）"],
    "办公设备更新": ["笔记本电脑", "多功能打印机", "网络交换机", "服务器"],
    "数据中心扩容": ["服务器", "网络交换机", "实施服务（人天）", "年度维保服务"],
    "客服系统建设": ["企业管理软件许可（用户/年）", "云服务订阅（年）", "实施服务（人天）", "培训服务（场）"],
    "门店数字化改造": ["收银终端", "监控摄像头", "云服务订阅（年）", "实施服务（人天）"],
    "员工培训服务": ["培训服务（场）", "云服务订阅（年）"],
    "安防监控升级": ["监控摄像头", "网络交换机", "服务器", "实施服务（人天）"],
    "年度框架采购": [product[0] for product in PRODUCTS],
    "供应链协同平台": ["企业管理软件许可（用户/年）", "云服务订阅（年）", "定制开发（人天）", "实施服务（人天）"],
    "移动办公平台": ["云服务订阅（年）", "企业管理软件许可（用户/年）", "定制开发（人天）", "培训服务（场）"],
    "智能仓储改造": ["智能仓储货架（组）", "手持数据采集终端", "企业管理软件许可（用户/年）", "实施服务（人天）"],
    "": ["年度维保服务", "云服务订阅（年）", "企业管理软件许可（用户/年）", "现场技术支持（次）"],
}
CONTRACT_MONTHS = [3, 6, 12, 12, 12, 18]
PAYMENT_PLANS: list[list[Decimal]] = [
    [Decimal("1")],
    [Decimal("0.5"), Decimal("0.5")],
    [Decimal("0.3"), Decimal("0.6"), Decimal("0.1")],
    [Decimal("0.3"), Decimal("0.4"), Decimal("0.3")],
]
PAYMENT_METHODS: list[tuple[str, int]] = [("bank_transfer", 85), ("cheque", 7), ("cash", 3), ("other", 5)]

# Follow-up content by where the relationship stands: (method, text).
FOLLOWUP_TEMPLATES: dict[str, list[tuple[str, str]]] = {
    "general": [
        ("phone", "电话回访{contact}，确认上月交付的设备运行正常，客户满意。"),
        ("phone", "节前电话问候{contact}，顺便了解明年的采购计划。"),
        ("wechat", "微信给{contact}发送了新产品介绍，对方表示会转给技术部门看看。"),
        ("wechat", "{contact}微信咨询发票开具进度，已协调财务本周寄出。"),
        ("visit", "拜访客户总经理，就明年的合作规划交换意见，对方有意扩大合作。"),
        ("visit", "上门拜访{contact}，参观了客户现场，了解现有业务流程的痛点。"),
        ("email", "邮件发送季度服务报告，请{contact}查收并反馈意见。"),
        ("email", "邮件通知{contact}系统升级维护时间，对方已确认。"),
    ],
    "initial": [
        ("phone", "与{contact}电话初步沟通{topic}需求，对方希望下周前收到初步方案。"),
        ("phone", "{contact}来电了解{topic}，介绍了公司情况和类似行业案例。"),
        ("wechat", "微信发送了{topic}的产品资料和成功案例，{contact}已查看。"),
        ("visit", "首次上门拜访{contact}，梳理了{topic}的现状和主要诉求。"),
        ("email", "邮件发送公司介绍和{topic}解决方案概要。"),
    ],
    "proposal": [
        ("email", "邮件发送{topic}正式报价单（含税），请{contact}确认。"),
        ("visit", "到客户现场进行{topic}方案演示，采购和技术部门共 6 人参加，反馈良好。"),
        ("phone", "电话确认{topic}方案的修改意见，客户希望增加移动端功能。"),
        ("wechat", "{contact}微信反馈方案整体认可，正在走内部立项流程。"),
        ("phone", "{contact}来电询问{topic}的报价明细，已说明价格构成。"),
    ],
    "negotiation": [
        ("phone", "与{contact}电话沟通价格，客户希望总价控制在 {budget} 万元以内。"),
        ("wechat", "{contact}微信反馈希望价格再优惠 5%，并延长质保一年。"),
        ("visit", "拜访客户采购负责人，就付款方式和交付周期进行谈判，基本达成一致。"),
        ("email", "邮件发送合同草案，等待客户法务审核意见。"),
    ],
    "won": [
        ("visit", "到客户现场签订{topic}合同，并确认项目启动会时间。"),
        ("email", "邮件发送项目实施计划和人员安排，请{contact}确认。"),
        ("phone", "电话跟进首付款进度，{contact}表示财务审批中，预计本月底付款。"),
        ("wechat", "微信确认{topic}第一阶段验收时间，{contact}会安排技术负责人参加。"),
    ],
    "lost": [
        ("phone", "电话回访{contact}，客户最终选择了竞争对手，主要原因是价格。"),
        ("wechat", "{contact}微信告知{topic}项目暂缓，预算被削减。"),
        ("email", "邮件感谢{contact}的支持，表示后续有需求可随时联系。"),
    ],
}

# fmt: on


# -- helpers ----------------------------------------------------------------------------------


class Generator:
    """All the state of one run: the seeded random source and what must stay unique."""

    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.phones: set[str] = set()  # membership only: never iterated
        self.emails: set[str] = set()
        self.domains: set[str] = set()
        self.companies: set[str] = set()

    # basic draws

    def pick(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def weighted(self, pairs: Sequence[tuple[T, int]]) -> T:
        values = [value for value, _ in pairs]
        weights = [weight for _, weight in pairs]
        return self.rng.choices(values, weights=weights)[0]

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def date_between(self, first: dt.date, last: dt.date) -> dt.date:
        if last <= first:
            return first
        return first + dt.timedelta(days=self.rng.randint(0, (last - first).days))

    def amount(self, low: int, high: int, step: int) -> Decimal:
        return Decimal(self.rng.randint(low // step, high // step) * step)

    # people and companies

    def mobile(self) -> str:
        while True:
            number = self.pick(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def person(self) -> tuple[str, str, str]:
        """A Chinese name, its surname's pinyin and its given name's pinyin."""
        surname, surname_py = self.pick(SURNAMES)
        given = self.rng.sample(GIVEN, 1 if self.chance(0.35) else 2)
        return surname + "".join(g for g, _ in given), surname_py, "".join(p for _, p in given)

    def unique_email(self, local: str, domain: str) -> str:
        email = f"{local}@{domain}"
        counter = 1
        while email in self.emails:
            counter += 1
            email = f"{local}{counter}@{domain}"
        self.emails.add(email)
        return email

    def company(self, industry: str, city: str) -> tuple[str, str, str]:
        """A unique company name, its short name and its trade name's pinyin."""
        while True:
            trade, pinyin = self.pick(TRADE_NAMES)
            business = self.pick(BUSINESSES[industry])
            place = city if self.chance(0.5) or len(city) <= 2 else city.removesuffix("市")
            name = place + trade + business + self.weighted(COMPANY_SUFFIXES)
            if name not in self.companies:
                self.companies.add(name)
                return name, trade + business[:2], pinyin

    def domain(self, pinyin: str, city_code: str) -> str:
        for candidate in (pinyin, pinyin + city_code, pinyin + "-" + city_code):
            if f"{candidate}.com" not in self.domains:
                self.domains.add(f"{candidate}.com")
                return f"{candidate}.com"
        counter = 2
        while f"{pinyin}{counter}.com" in self.domains:
            counter += 1
        self.domains.add(f"{pinyin}{counter}.com")
        return f"{pinyin}{counter}.com"

    def address(self) -> tuple[dict[str, str], str, str]:
        """A customer address, its city and the city's pinyin initials."""
        province, city, district, code, city_code, streets = self.pick(DISTRICTS)
        detail = f"{self.pick(streets)} {self.rng.randint(1, 999)} 号"
        if self.chance(0.6):
            detail += (
                f" {self.pick('ABCD')} 座 {self.rng.randint(2, 28)}{self.rng.randint(1, 20):02d} 室"
            )
        region = {
            "province": province,
            "city": city,
            "district": district,
            "detail": detail,
            "code": code,
        }
        return region, city, city_code


def money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


CJK_THEN_LATIN = re.compile(r"([\u4e00-\u9fff])([A-Za-z0-9])")
LATIN_THEN_CJK = re.compile(r"([A-Za-z0-9%])([\u4e00-\u9fff])")


def tidy(text: str) -> str:
    """A space where Chinese meets Latin letters or digits (中文 ERP 系统)."""
    return LATIN_THEN_CJK.sub(r"\1 \2", CJK_THEN_LATIN.sub(r"\1 \2", text))


def project(short: str, topic: str) -> str:
    """A deal's name: the customer's short name and the topic, without a repeated word."""
    if topic.startswith(short[-2:]):
        short = short[:-2]
    return short + topic


# -- forms ------------------------------------------------------------------------------------


def customers(gen: Generator) -> tuple[list[Record], list[dict[str, str]]]:
    """The customers, and per customer what later forms reuse (short name, domain, level)."""
    records: list[Record] = []
    extra: list[dict[str, str]] = []
    for number in range(1, CUSTOMERS + 1):
        industry = gen.weighted(list(INDUSTRY_WEIGHTS.items()))
        level = gen.weighted(LEVELS)
        region, city, city_code = gen.address()
        name, short, pinyin = gen.company(industry, city)
        domain = gen.domain(pinyin, city_code)
        record: Record = {
            "_id": number,
            "name": name,
            "industry": industry,
            "level": level,
            "source": gen.weighted(SOURCES),
            "phone": gen.mobile(),
        }
        if gen.chance(0.9):
            record["email"] = gen.unique_email(gen.pick(MAILBOXES), domain)
        record["region"] = region
        tags: list[str] = []
        if level == "A" or (level == "B" and gen.chance(0.3)):
            tags.append("key_account")
        for tag in TAGS[1:]:
            if len(tags) < 3 and gen.chance(0.18):
                tags.append(tag)
        if tags:
            record["tags"] = tags
        low, high = PURCHASE_RANGE[level]
        record["annual_purchase"] = money(gen.amount(low, high, 100))
        if gen.chance(0.4):
            record["note"] = gen.pick(CUSTOMER_NOTES)
        records.append(record)
        extra.append({"short": short, "domain": domain, "level": level, "source": record["source"]})
    return records, extra


def contacts(gen: Generator, extra: list[dict[str, str]]) -> tuple[list[Record], list[list[str]]]:
    """1-3 contacts per customer (the first one primary), and their names per customer."""
    records: list[Record] = []
    names: list[list[str]] = []
    for customer_id, info in enumerate(extra, start=1):
        count = gen.weighted([(1, 35), (2, 45), (3, 20)])
        these: list[str] = []
        for index in range(count):
            name, surname_py, given_py = gen.person()
            record: Record = {
                "_id": len(records) + 1,
                "name": name,
                "customer": customer_id,
                "title": gen.pick(PRIMARY_TITLES if index == 0 else JOB_TITLES),
            }
            if gen.chance(0.95):
                record["phone"] = gen.mobile()
            if gen.chance(0.8):
                local = f"{given_py}.{surname_py}" if gen.chance(0.5) else surname_py + given_py
                record["email"] = gen.unique_email(local, info["domain"])
            if gen.chance(0.7):
                if "phone" in record and gen.chance(0.3):
                    record["wechat"] = record["phone"]
                else:
                    record["wechat"] = f"{surname_py}{given_py}{gen.rng.randint(10, 9999)}"
            record["is_primary"] = index == 0
            records.append(record)
            these.append(name)
        names.append(these)
    return records, names


def leads(gen: Generator, customer_records: list[Record]) -> list[Record]:
    records: list[Record] = []
    for number in range(1, LEADS + 1):
        status = gen.weighted(LEAD_STATUSES)
        name, surname_py, given_py = gen.person()
        if status == "converted":
            customer = gen.pick(customer_records)
            company, source = customer["name"], customer["source"]
        else:
            _, city, _ = gen.address()
            industry = gen.weighted(list(INDUSTRY_WEIGHTS.items()))
            company, source = gen.company(industry, city)[0], gen.weighted(SOURCES)
        record: Record = {"_id": number, "name": name, "company": company}
        if gen.chance(0.9):
            record["phone"] = gen.mobile()
        if gen.chance(0.5):
            if gen.chance(0.4):  # a QQ number
                record["email"] = gen.unique_email(str(gen.rng.randint(10**7, 10**10)), "qq.com")
            else:
                local = surname_py + given_py + str(gen.rng.randint(1, 999))
                record["email"] = gen.unique_email(local, gen.pick(FREE_MAIL[1:]))
        record["source"] = source
        record["status"] = status
        record["note"] = tidy(gen.pick(LEAD_NOTES[status]).format(topic=gen.pick(TOPICS)))
        records.append(record)
    return records


def opportunities(
    gen: Generator, extra: list[dict[str, str]]
) -> tuple[list[Record], list[str], list[dt.date]]:
    """The opportunities, their topics and the day each was opened."""
    records: list[Record] = []
    topics: list[str] = []
    opened: list[dt.date] = []
    level_weight = {"A": 5, "B": 3, "C": 2, "D": 1}
    pool = [(customer_id, level_weight[info["level"]]) for customer_id, info in enumerate(extra, 1)]
    titles: dict[str, int] = {}
    for number in range(1, OPPORTUNITIES + 1):
        customer_id = gen.weighted(pool)
        info = extra[customer_id - 1]
        topic = gen.pick(TOPICS)
        title = tidy(project(info["short"], topic) + "项目")
        titles[title] = titles.get(title, 0) + 1
        if titles[title] > 1:
            title += f"（{'一二三四五六'[titles[title] - 1]}期）"
        stage = gen.weighted(STAGES)
        if stage in ("won", "lost"):
            close = gen.date_between(FIRST_DAY + dt.timedelta(days=45), TODAY)
            start = close - dt.timedelta(days=gen.rng.randint(20, 120))
        else:
            close = gen.date_between(TODAY - dt.timedelta(days=20), LAST_DAY)
            start = gen.date_between(max(FIRST_DAY, close - dt.timedelta(days=240)), TODAY)
        low, high = DEAL_SIZE[info["level"]]
        record: Record = {
            "_id": number,
            "title": title,
            "customer": customer_id,
            "stage": stage,
            "amount": money(gen.amount(low, high, 1000)),
            "expected_close": close.isoformat(),
            "win_rate": gen.pick(WIN_RATES[stage]),
        }
        records.append(record)
        topics.append(topic)
        opened.append(max(FIRST_DAY, start))
    return records, topics, opened


def contract_items(gen: Generator, topic: str) -> tuple[list[Record], Decimal]:
    """1-4 line items of what a deal on `topic` sells, and their total."""
    rows: list[Record] = []
    total = Decimal(0)
    choices = TOPIC_PRODUCTS[topic]
    count = min(len(choices), gen.weighted([(1, 35), (2, 35), (3, 20), (4, 10)]))
    # the topic's main product first, then others
    for name in [choices[0], *gen.rng.sample(choices[1:], count - 1)]:
        product, (low, high), (qty_low, qty_high), step = PRODUCT_INDEX[name]
        qty = gen.rng.randint(qty_low, qty_high)
        price = gen.amount(low, high, step)
        rows.append({"product": product, "qty": qty, "price": money(price)})
        total += qty * price
    return rows, total


def contracts(
    gen: Generator,
    extra: list[dict[str, str]],
    opportunity_records: list[Record],
    topics: list[str],
) -> tuple[list[Record], list[Decimal]]:
    """The contracts (by signing date) and their totals; won deals take their contract's total."""
    drafts: list[tuple[dt.date, Record, Decimal]] = []
    won = [o for o in opportunity_records if o["stage"] == "won"][:CONTRACTS]
    renewals = [
        (customer_id, info)
        for customer_id, info in enumerate(extra, 1)
        if info["level"] in ("A", "B")
    ]
    for index in range(CONTRACTS):
        if index < len(won):
            deal = won[index]
            customer_id = deal["customer"]
            topic = topics[deal["_id"] - 1]
            rows, total = contract_items(gen, topic)
            signed = dt.date.fromisoformat(deal["expected_close"])
            title = tidy(project(extra[customer_id - 1]["short"], topic) + "合同")
            deal["amount"] = money(total)
            record: Record = {"title": title, "customer": customer_id, "opportunity": deal["_id"]}
        else:
            customer_id, info = gen.pick(renewals)
            rows, total = contract_items(gen, "")
            signed = gen.date_between(FIRST_DAY, TODAY)
            title = tidy(f"{info['short']}{signed.year}年度服务续约合同")
            record = {"title": title, "customer": customer_id}
        start = signed + dt.timedelta(days=gen.rng.randint(0, 15))
        months = [
            m for m in CONTRACT_MONTHS if add_months(start, m) - dt.timedelta(days=1) <= LAST_DAY
        ]
        end = add_months(start, gen.pick(months)) - dt.timedelta(days=1)
        finished = "completed" if end < TODAY else "active"
        status = "terminated" if gen.chance(0.06) else finished
        record.update(
            start_date=start.isoformat(),
            end_date=end.isoformat(),
            items=rows,
            signed_date=signed.isoformat(),
            status=status,
        )
        drafts.append((signed, record, total))
    drafts.sort(key=lambda draft: (draft[0], draft[1]["customer"]))
    records: list[Record] = []
    for number, (_, record, _) in enumerate(drafts, start=1):
        records.append({"_id": number, **record})
    return records, [total for _, _, total in drafts]


def payments(gen: Generator, contract_records: list[Record], totals: list[Decimal]) -> list[Record]:
    drafts: list[tuple[dt.date, int, Record]] = []
    for contract, total in zip(contract_records, totals, strict=True):
        plan = gen.pick(PAYMENT_PLANS)
        # a terminated contract stops after its first installment, or before it
        paid_count = gen.rng.randint(0, 1) if contract["status"] == "terminated" else len(plan)
        start = dt.date.fromisoformat(contract["signed_date"])
        end = dt.date.fromisoformat(contract["end_date"])
        step = max(1, (end - start).days // len(plan))
        paid = Decimal(0)
        for index, share in enumerate(plan[:paid_count]):
            due = start + dt.timedelta(days=index * step + gen.rng.randint(3, 20))
            if due > TODAY:
                break
            last = index == len(plan) - 1
            amount = total - paid if last else (total * share).quantize(CENT)
            paid += amount
            if len(plan) == 1:
                note = "全款"
            elif index == 0:
                note = "首期款"
            else:
                note = "尾款" if last else f"第 {index + 1} 期款"
            record: Record = {
                "contract": contract["_id"],
                "amount": money(amount),
                "paid_on": due.isoformat(),
                "method": gen.weighted(PAYMENT_METHODS),
                "note": note,
            }
            drafts.append((due, contract["_id"], record))
    drafts.sort(key=lambda draft: (draft[0], draft[1]))
    return [{"_id": number, **record} for number, (_, _, record) in enumerate(drafts, start=1)]


def followups(
    gen: Generator,
    contact_names: list[list[str]],
    opportunity_records: list[Record],
    topics: list[str],
    opened: list[dt.date],
) -> list[Record]:
    drafts: list[tuple[dt.date, Record]] = []
    for _ in range(FOLLOWUPS):
        record: Record = {}
        if gen.chance(0.65):
            deal = gen.pick(opportunity_records)
            customer_id = deal["customer"]
            close = dt.date.fromisoformat(deal["expected_close"])
            first = opened[deal["_id"] - 1]
            phase = deal["stage"]
            if phase in ("won", "lost") and gen.chance(0.5):
                day = gen.date_between(
                    close - dt.timedelta(days=7), min(TODAY, close + dt.timedelta(days=30))
                )
            else:
                day = gen.date_between(first, min(TODAY, close))
                if phase in ("won", "lost"):
                    phase = gen.pick(["initial", "proposal", "negotiation"])
            topic = topics[deal["_id"] - 1]
            budget = Decimal(deal["amount"]) * Decimal("0.9") / 10000
            record.update(customer=customer_id, opportunity=deal["_id"])
        else:
            customer_id = gen.rng.randint(1, len(contact_names))
            phase, topic, budget = "general", gen.pick(TOPICS), Decimal(0)
            day = gen.date_between(FIRST_DAY, TODAY)
            record.update(customer=customer_id)
        method, text = gen.pick(FOLLOWUP_TEMPLATES[phase])
        contact = gen.pick(contact_names[customer_id - 1])
        record["method"] = method
        budget_text = str(max(1, int(budget.to_integral_value())))
        record["content"] = tidy(text.format(contact=contact, topic=topic, budget=budget_text))
        if gen.chance(0.7):
            record["next_date"] = min(
                LAST_DAY, day + dt.timedelta(days=gen.rng.randint(3, 21))
            ).isoformat()
        drafts.append((day, record))
    drafts.sort(key=lambda draft: draft[0])
    return [{"_id": number, **record} for number, (_, record) in enumerate(drafts, start=1)]


SALES_REPS = ("rep_a1", "rep_a2", "rep_b1", "rep_b2")
"""The sample sales representatives (sample_users.json); two per sales team."""


def assign_owners(
    customer_records: list[Record],
    contact_records: list[Record],
    lead_records: list[Record],
    opportunity_records: list[Record],
    followup_records: list[Record],
    contract_records: list[Record],
    payment_records: list[Record],
) -> None:
    """Give every record an owner (`_owner`, a sample username the installer resolves): each
    customer belongs to one representative, and everything about a customer to its owner."""
    owner_of: dict[int, str] = {}
    for record in customer_records:
        owner = SALES_REPS[(int(record["_id"]) - 1) % len(SALES_REPS)]
        owner_of[int(record["_id"])] = owner
        record["owner"] = owner
        record["_owner"] = owner
    for record in [*contact_records, *opportunity_records, *followup_records, *contract_records]:
        record["_owner"] = owner_of[int(record["customer"])]
    for record in opportunity_records:
        record["owner"] = record["_owner"]
    contract_owner = {int(c["_id"]): c["_owner"] for c in contract_records}
    for record in payment_records:
        record["_owner"] = contract_owner[int(record["contract"])]
    for record in lead_records:
        owner = SALES_REPS[int(record["_id"]) % len(SALES_REPS)]
        record["_owner"] = owner
        record["owner"] = owner


PROJECT_DAYS = 90
"""A project is planned to be delivered this many days after its deal is signed."""


def projects(opportunity_records: list[Record]) -> list[Record]:
    """A project per won deal, as the pack's rule 商机签约生成项目 creates them: its name,
    customer and amount, the deal's owner as manager and owner, delivery planned 90 days after
    signing, and its status and progress as of the snapshot's "today" (no random draws, so the
    other forms' records stay as they were before projects existed)."""
    records: list[Record] = []
    for deal in opportunity_records:
        if deal["stage"] != "won":
            continue
        signed = dt.date.fromisoformat(deal["expected_close"])
        due = min(LAST_DAY, signed + dt.timedelta(days=PROJECT_DAYS))
        record: Record = {
            "_id": len(records) + 1,
            "name": deal["title"],
            "customer": deal["customer"],
            "manager": deal["owner"],
            "due_date": due.isoformat(),
        }
        if "amount" in deal:
            record["amount"] = deal["amount"]
        if due <= TODAY:
            status, progress = "delivered", Decimal(1)
        elif signed >= TODAY:
            status, progress = "not_started", Decimal(0)
        else:
            done = Decimal((TODAY - signed).days) / Decimal((due - signed).days)
            progress = (done * 20).to_integral_value(rounding="ROUND_FLOOR") / 20
            status = "paused" if record["_id"] % 5 == 0 else "in_progress"
        record.update(status=status, progress=money(progress), _owner=deal["_owner"])
        records.append(record)
    return records


REPORT_DAYS = (dt.date(2026, 6, 26), dt.date(2026, 6, 29), dt.date(2026, 6, 30))
"""The workdays up to the snapshot's "today" that every sales rep wrote a 工作简报 for."""
REPORT_TEXTS = (
    ("电话回访老客户 3 家，整理本周商机进展。", "拜访重点客户，准备报价方案。"),
    ("上门拜访客户 1 家，演示产品并记录需求。", "根据需求修改方案，约下次沟通时间。"),
    ("跟进合同审批，催收一笔到期回款。", "整理客户资料，补全联系人信息。"),
)


def work_reports() -> list[Record]:
    """A few 工作简报 per sales rep (no random draws: the other forms' records stay as they were)."""
    records: list[Record] = []
    for rep_index, rep in enumerate(SALES_REPS):
        for day_index, day in enumerate(REPORT_DAYS):
            today, tomorrow = REPORT_TEXTS[(rep_index + day_index) % len(REPORT_TEXTS)]
            records.append(
                {
                    "_id": len(records) + 1,
                    "date": day.isoformat(),
                    "today": today,
                    "tomorrow": tomorrow,
                    "_owner": rep,
                }
            )
    return records


def generate() -> dict[str, list[Record]]:
    """Every form's sample records, in the app's form order."""
    gen = Generator()
    customer_records, extra = customers(gen)
    contact_records, contact_names = contacts(gen, extra)
    lead_records = leads(gen, customer_records)
    opportunity_records, topics, opened = opportunities(gen, extra)
    contract_records, totals = contracts(gen, extra, opportunity_records, topics)
    payment_records = payments(gen, contract_records, totals)
    followup_records = followups(gen, contact_names, opportunity_records, topics, opened)
    assign_owners(
        customer_records,
        contact_records,
        lead_records,
        opportunity_records,
        followup_records,
        contract_records,
        payment_records,
    )
    return {
        "customer": customer_records,
        "contact": contact_records,
        "lead": lead_records,
        "opportunity": opportunity_records,
        "followup": followup_records,
        "contract": contract_records,
        "payment": payment_records,
        "project": projects(opportunity_records),
        "work_report": work_reports(),
    }


def dumps(data: dict[str, list[Record]]) -> str:
    """JSON with one record per line (readable diffs, small file)."""
    lines = ["{"]
    for form_index, (form, records) in enumerate(data.items()):
        lines.append(f" {json.dumps(form)}: [")
        for index, record in enumerate(records):
            comma = "," if index < len(records) - 1 else ""
            lines.append("  " + json.dumps(record, ensure_ascii=False) + comma)
        lines.append(" ]" + ("," if form_index < len(data) - 1 else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the CRM pack's sample data.")
    parser.add_argument(
        "output",
        nargs="?",
        type=Path,
        default=Path(__file__).with_name("sample_data.json"),
        help="where to write the JSON (default: sample_data.json next to this script)",
    )
    args = parser.parse_args(argv)
    data = generate()
    args.output.write_bytes(dumps(data).encode("utf-8"))
    counts = ", ".join(f"{form} {len(records)}" for form, records in data.items())
    print(f"wrote {args.output}: {counts}")


if __name__ == "__main__":
    main()
