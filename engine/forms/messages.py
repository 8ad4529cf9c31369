"""Issue codes of app definitions with their zh/en messages (Pydantic's live in engine.core.issues)."""

from __future__ import annotations

from typing import Any

from engine.core.issues import Issue
from engine.expr.errors import TYPE_NAMES_ZH

# code -> (zh template, en template); templates use str.format with keyword arguments.
MESSAGES: dict[str, tuple[str, str]] = {
    "duplicate_form": ("表单标识 {key} 重复", "Duplicate form key {key}"),
    "duplicate_field": ("字段标识 {key} 重复", "Duplicate field key {key}"),
    "unknown_title_field": ("标题字段 {key} 不存在", "The title field {key} does not exist"),
    "title_field_type": (
        "标题字段 {key} 的类型 {type} 不能作为标题，请选择文本类字段",
        "The title field {key} has type {type}; choose a text-like field",
    ),
    "index_no_column": (
        "字段 {key}（{type}）没有自己的列，不能设为常用于筛选和排序",
        "Field {key} ({type}) has no column of its own; it cannot be indexed",
    ),
    "unknown_index_field": ("索引中的字段 {key} 不存在", "The indexed field {key} does not exist"),
    "duplicate_index_field": ("索引中字段 {key} 重复", "Field {key} appears twice in the index"),
    "duplicate_index": (
        "组合（{keys}）重复，与前面的一个相同",
        "The combination ({keys}) is declared twice",
    ),
    "unknown_form": ("表单 {key} 不存在", "Form {key} does not exist"),
    "duplicate_role": ("角色标识 {key} 重复", "Duplicate role key {key}"),
    "unknown_field": ("字段 {key} 不存在", "Field {key} does not exist"),
    "not_a_relation": ("字段 {key} 不是关联字段", "Field {key} is not a relation"),
    "not_a_container": (
        "字段 {key} 不是关联或子表单字段",
        "Field {key} is not a relation or subform",
    ),
    "aggregate_type": (
        "汇总方式 {aggregate} 只能用于数字字段，字段 {key} 的类型为 {type}",
        "Aggregate {aggregate} needs a number field; field {key} has type {type}",
    ),
    "duplicate_option": ("选项值 {value} 重复", "Duplicate option value {value}"),
    "unknown_option": (
        "默认值 {value} 不是选项之一",
        "The default {value} is not one of the options",
    ),
    "min_max": (
        "最小值 {min} 大于最大值 {max}",
        "The minimum {min} is greater than the maximum {max}",
    ),
    "invalid_pattern": ("正则表达式无效：{error}", "Invalid regular expression: {error}"),
    "unsupported_pattern": (
        "不支持的正则表达式：{error}（为保证校验速度，不支持反向引用 \\1、环视 (?=…) 等写法）",
        "Unsupported regular expression: {error} (to keep checks fast, backreferences such as \\1"
        " and lookarounds such as (?=…) are not supported)",
    ),
    "invalid_serial_pattern": (
        "流水号格式无效：{reason_zh}（例如 HT-{{YYYY}}{{MM}}-{{0000}}）",
        "Invalid serial pattern: {reason_en} (e.g. HT-{{YYYY}}{{MM}}-{{0000}})",
    ),
    "nested_subform": ("子表单中不能再包含子表单", "A subform cannot contain another subform"),
    "not_boolean": (
        "条件应返回是/否，实际为{actual_zh}",
        "The condition must be TRUE/FALSE, got {actual_en}",
    ),
    "formula_cycle": (
        "公式之间循环引用：{name}",
        "Formulas refer to each other in a cycle: {name}",
    ),
    "reference_cycle": (
        "字段 {key} 经由关联、关联查询、汇总或公式引用了自身：{chain}",
        "Field {key} reads itself through relations, lookups, rollups or formulas: {chain}",
    ),
    # data linkage defaults (engine.forms.linkage)
    "linkage_in_subform": (
        "子表单中的字段不能使用数据联动默认值",
        "A field inside a subform cannot have a data linkage default",
    ),
    "linkage_target_type": (
        "{type} 类型的字段不能使用数据联动默认值",
        "A {type} field cannot have a data linkage default",
    ),
    "linkage_self": (
        "联动条件不能使用本字段自身",
        "A linkage condition cannot use the field itself",
    ),
    "linkage_equals_type": (
        "字段 {key}（{type}）不能作为联动条件",
        "Field {key} ({type}) cannot be used in a linkage condition",
    ),
    "linkage_chain": (
        "字段 {key} 本身由数据联动填充，不能作为联动条件",
        "Field {key} is itself filled by a data linkage and cannot be used in a condition",
    ),
    "linkage_compare": (
        "来源字段 {field}（{field_type}）不能与本表单字段 {key}（{type}）比较",
        "Source field {field} ({field_type}) cannot be compared with field {key} ({type}) of this form",
    ),
    "linkage_take_type": (
        "来源字段 {key}（{source_type}）的值不能填入 {type} 类型的字段",
        "Values of source field {key} ({source_type}) cannot fill a {type} field",
    ),
    "invalid_schema": ("字段结构不正确：{error}", "Invalid field structure: {error}"),
    # Record values (`FieldType.coerce`); paths are relative to the field.
    "not_writable": ("计算字段不能直接写入", "This field is computed and cannot be written"),
    "expected_text": ("应为文本", "Expected text"),
    "nul_character": ("文本不能包含空字符 \\0", "Text cannot contain the NUL character \\0"),
    "invalid_email": ("邮箱地址格式不正确", "Not a valid e-mail address"),
    "invalid_phone": (
        "电话号码格式不正确（手机号如 13812345678，座机如 010-12345678）",
        "Not a valid phone number (a mobile such as 13812345678 or a landline such as 010-12345678)",
    ),
    "invalid_url": ("网址应以 http:// 或 https:// 开头", "Not a valid http:// or https:// address"),
    "pattern": ("格式不符合要求（{pattern}）", "Does not match the required pattern ({pattern})"),
    "min_length": ("至少需要 {min} 个字符", "Must have at least {min} characters"),
    "max_length": ("最多 {max} 个字符", "Must have at most {max} characters"),
    "expected_number": (
        '应为数字（JSON 数字或如 "12.50" 的数字文本）',
        'Expected a number (a JSON number or decimal text such as "12.50")',
    ),
    "expected_integer": ("应为整数", "Expected a whole number"),
    "number_too_large": (
        "数值超出范围，绝对值最大为 {limit}",
        "The number is out of range; the largest magnitude allowed is {limit}",
    ),
    "min": ("不能小于 {min}", "Must be at least {min}"),
    "max": ("不能大于 {max}", "Must be at most {max}"),
    "expected_boolean": ("应为是/否（true/false）", "Expected true or false"),
    "not_an_option": ("{value} 不是选项之一", "{value} is not one of the options"),
    "expected_list": ("应为列表", "Expected a list"),
    "duplicate_value": ("取值 {value} 重复", "Duplicate value {value}"),
    "min_count": ("至少选择 {min} 项", "Choose at least {min}"),
    "max_count": ("最多选择 {max} 项", "Choose at most {max}"),
    "invalid_date": ("日期应为有效的 YYYY-MM-DD", "Expected a valid date YYYY-MM-DD"),
    "invalid_datetime": (
        "日期时间应为 ISO 8601 格式，如 2024-06-01T12:00:00+08:00（不带时区视为 UTC）",
        "Expected an ISO 8601 date and time such as 2024-06-01T12:00:00+08:00 (no offset means UTC)",
    ),
    "invalid_time": ("时间应为 HH:MM 或 HH:MM:SS", "Expected a time HH:MM or HH:MM:SS"),
    "expected_id": ("应为编号（正整数）", "Expected an id (a positive whole number)"),
    "expected_object": ("应为对象", "Expected an object"),
    "unknown_property": ("不允许的属性 {key}", "Unknown property {key}"),
    "invalid_region_code": ("行政区划代码应为 6 位数字", "The region code must be 6 digits"),
    "out_of_range": ("应在 {min} 到 {max} 之间", "Must be between {min} and {max}"),
    "missing": ("缺少必填项", "Missing required value"),
    # records
    "required": ("此项为必填项", "This field is required"),
    "unique": (
        "取值 {value} 已存在，不能重复",
        "The value {value} already exists; it must be unique",
    ),
    "record_not_found": ("关联的记录 {id} 不存在", "The linked record {id} does not exist"),
    "user_not_found": ("成员 {id} 不存在", "User {id} does not exist"),
    "department_not_found": ("部门 {id} 不存在", "Department {id} does not exist"),
    "file_not_found": (
        "文件 {id} 不存在，请先通过 POST /files 上传",
        "File {id} does not exist; upload it with POST /files first",
    ),
    "row_not_found": ("子表单行 {id} 不属于这条记录", "Row {id} does not belong to this record"),
    "not_an_image": (
        "图片字段只接受 PNG、JPEG、GIF、WebP 或 BMP 图片",
        "Image fields accept only PNG, JPEG, GIF, WebP or BMP images",
    ),
    "signature_not_png": ("手写签名应为 PNG 图片", "A signature must be a PNG image"),
    "not_a_file_field": (
        "{key} 不是此外链可填写的附件、图片或签名字段",
        "{key} is not an attachment, image or signature field of this link",
    ),
    "expected_record": ("记录应为 JSON 对象", "A record must be a JSON object"),
    "read_only_field": ("你对此字段只有查看权限", "You may not change this field"),
    "locked_field": (
        "此字段当前为只读（只读条件成立），不能修改",
        "This field is read-only while its read-only condition holds",
    ),
    "version_required": ("修改记录时必须提供 _version", "_version is required to change a record"),
    "expected_version": ("_version 应为正整数", "_version must be a positive whole number"),
    "validation": ("{message_zh}", "{message_en}"),
    "out_of_scope": (
        "记录不在你有权创建的范围内",
        "The record would be outside the records you may create",
    ),
    "too_many_rows": ("最多 {max} 行", "At most {max} rows"),
    "too_few_rows": ("至少 {min} 行", "At least {min} rows"),
}

INVALID_VALUE_ZH = "取值不符合任何允许的形式"
INVALID_VALUE_EN = "The value matches none of the allowed forms"
UNKNOWN_TYPE_EN = "Unknown field type {type!r}; expected one of: {expected}"


def issue(
    path: str, code: str, *, line: int | None = None, column: int | None = None, **params: Any
) -> Issue:
    """An issue with the messages of `code` filled in from `params`."""
    zh, en = MESSAGES[code]
    return Issue(path, code, zh.format(**params), en.format(**params), line, column)


def kind_names(kind: str) -> dict[str, str]:
    """`actual_zh`/`actual_en` parameters naming an expression type."""
    return {"actual_zh": TYPE_NAMES_ZH.get(kind, kind), "actual_en": kind}
