"""Controlled vocabularies of the domain, each value with its Chinese label."""

# score → (level name, label). 5 is best; a 差评 is 1 or 2; 基本满意 (3) is not a 差评.
LEVELS = {
    5: ("very_satisfied", "非常满意"),
    4: ("satisfied", "满意"),
    3: ("basically_satisfied", "基本满意"),
    2: ("dissatisfied", "不满意"),
    1: ("very_dissatisfied", "非常不满意"),
}
BAD_MAX_SCORE = 2  # 差评: 不满意 and 非常不满意
GOOD_MIN_SCORE = 3  # 好评率 counts 基本满意 and better
PRAISE_MIN_SCORE = 4  # 满意 and 非常满意: a bad-only tag does not fit them
DEFAULT_SCORE = 3

CHANNELS = {
    "miniprogram": "小程序",
    "app": "政务服务移动端",
    "web": "网站",
    "qrcode": "扫码评价",
    "tablet": "平板评价",
    "device": "评价器",
    "sms": "短信",
    "hotline": "12345热线",
}

HALL_LEVELS = {"city": "市级", "district": "区县级", "street": "街道（乡镇）", "community": "社区（村）"}
HALL_LEVEL_ORDER = list(HALL_LEVELS)

TAG_APPLIES = {"good": "好评", "bad": "差评", "any": "通用"}

ROLES = {"staff": "窗口/部门工作人员", "supervisor": "监管人员", "admin": "系统管理员"}
ROLE_RANK = {"staff": 1, "supervisor": 2, "admin": 3}


FORMATS = {"json": "JSON 数据", "html": "可打印网页"}  # the answers a report or a form can take (?format=)


def one_of(what: str, labels: dict[str, str]) -> str:
    """The message for a value outside a closed vocabulary. It names the choices by their Chinese labels, never by
    their codes: a person reads it, and a program finds the codes in the OpenAPI document's enum."""
    return f"{what}只能是以下之一：{'、'.join(labels.values())}"


def level_of(score: int) -> tuple[str, str]:
    return LEVELS[score]


def is_bad(score: int) -> bool:
    return score <= BAD_MAX_SCORE


def is_good(score: int) -> bool:
    return score >= GOOD_MIN_SCORE


def tag_fits(applies_to: str, score: int) -> bool:
    """基本满意 (3) may carry either kind; a good-only tag on a 差评 or a bad-only tag on praise is a mistake."""
    return not (applies_to == "good" and is_bad(score) or applies_to == "bad" and score >= PRAISE_MIN_SCORE)

# 我陪群众走流程
WALKTHROUGH_MODES = {
    "accompany": "陪同办",
    "self": "亲身办",
    "incognito": "暗访",
    "window_seat": "坐窗口",
    "cross_department": "跨部门互办",
}
WALKTHROUGH_STATUSES = {"draft": "草稿", "submitted": "已提交"}
# In the order a procedure usually runs, so a feedback form lists steps in this order.
STEPS = {
    "consult": "咨询",
    "ticket": "取号",
    "wait": "等候",
    "accept": "受理",
    "form": "填表",
    "submit_docs": "递交材料",
    "approve": "审批",
    "pay": "缴费",
    "deliver": "出件",
    "rate": "评价",
    "online": "线上办理",
}
FINDING_CATEGORIES = {
    "materials": "材料",
    "process": "流程",
    "time_limit": "时限",
    "attitude": "态度",
    "efficiency": "效率",
    "disclosure": "信息公开",
    "facilities": "环境设施",
    "online": "线上平台",
    "accessibility": "适老/无障碍",
    "other": "其他",
}
SEVERITIES = {"low": "轻微", "medium": "一般", "high": "严重"}
