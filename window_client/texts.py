"""Words of the panel, the pad and the command line, in Chinese (default) and English."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "next": {"zh": "叫号", "en": "Next"},
    "recall": {"zh": "重呼", "en": "Recall"},
    "skip": {"zh": "过号", "en": "No-show"},
    "start": {"zh": "开始办理", "en": "Start"},
    "finish": {"zh": "办结", "en": "Finish"},
    "transfer": {"zh": "转移", "en": "Transfer"},
    "park": {"zh": "挂起", "en": "Park"},
    "unpark": {"zh": "恢复挂起", "en": "Call back"},
    "call": {"zh": "指定叫号", "en": "Call number"},
    "pause": {"zh": "暂停", "en": "Pause"},
    "resume": {"zh": "恢复", "en": "Resume"},
    "signin": {"zh": "签到", "en": "Sign in"},
    "signout": {"zh": "签退", "en": "Sign out"},
    "status": {"zh": "状态", "en": "Status"},
    "empty": {"zh": "无人等候", "en": "Nobody waiting"},
    "online": {"zh": "已连接", "en": "Online"},
    "offline": {"zh": "连接中断，显示最后状态", "en": "Offline: showing the last state"},
    "unreachable": {"zh": "服务器无法连接", "en": "Server unreachable"},
    "serving": {"zh": "正在办理", "en": "Serving"},
    "called": {"zh": "已叫号", "en": "Called"},
    "idle": {"zh": "空闲", "en": "Idle"},
    "paused": {"zh": "暂停服务", "en": "Paused"},
    "waiting": {"zh": "等候", "en": "Waiting"},
    "parked": {"zh": "挂起", "en": "Parked"},
    "recalls_left": {"zh": "可重呼 {n} 次", "en": "{n} recalls left"},
    "today": {"zh": "今日", "en": "Today"},
    "staff": {"zh": "工作人员", "en": "Staff"},
    "nobody": {"zh": "未签到", "en": "Nobody signed in"},
    "rated": {"zh": "{number} 已评价", "en": "{number} rated"},
    "working": {"zh": "处理中…", "en": "Working…"},
    "type_number": {"zh": "输入号码后按回车", "en": "Type the number, then Enter"},
    "type_service": {
        "zh": "输入业务代码或窗口号后按回车",
        "en": "Type a service letter or a window number, then Enter",
    },
    "to_window": {"zh": "→{name}", "en": "→ {name}"},
    "queued": {"zh": "转来", "en": "Sent here"},
    "type_reason": {"zh": "输入暂停原因后按回车", "en": "Type the reason, then Enter"},
    "type_staff": {"zh": "工号 + 回车，密码 + 回车", "en": "Staff id, Enter; PIN, Enter"},
    "done": {"zh": "完成", "en": "Done"},
    "average": {"zh": "平均 {m} 分钟", "en": "avg {m} min"},
}


def t(key: str, lang: str, **values: object) -> str:
    words = TEXTS.get(key)
    text = (words.get(lang) or words["zh"]) if words else key
    return text.format(**values) if values else text
