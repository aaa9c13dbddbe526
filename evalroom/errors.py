"""Stable error codes and the sentences a participant reads (zh-CN first, English available).

A refusal is a value: ``Refusal(code, detail)``. The code never changes once published
(clients and tests key on it); the sentence is for people. ``docs/protocol.md`` lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass

# code -> (zh-CN sentence, English sentence, retryable, recorded as an attempt)
CATALOG: dict[str, tuple[str, str, bool, bool]] = {
    "malformed": (
        "消息格式错误，无法解析。",
        "The message is not valid JSON of the protocol.",
        False,
        False,
    ),
    "too_large": ("消息过大。", "The message is larger than the limit.", False, False),
    "unknown_type": ("未知的消息类型。", "Unknown message or command type.", False, False),
    "invalid": ("消息内容不符合要求。", "The message does not match its schema.", False, False),
    "unsupported_version": ("协议版本不受支持。", "Unsupported protocol version.", False, False),
    "unauthenticated": (
        "未登录或凭证已失效。",
        "Not logged in, or the token has expired.",
        False,
        False,
    ),
    "bad_signature": ("签名验证失败。", "The signature does not verify.", False, False),
    "challenge_expired": (
        "登录挑战已过期或已使用。",
        "The login challenge expired or was used.",
        False,
        False,
    ),
    "unknown_user": ("用户不存在。", "No such user.", False, False),
    "origin_not_allowed": ("来源不被允许。", "This origin is not allowed.", False, False),
    "forbidden": ("您的角色无权执行此操作。", "Your role may not do this.", False, True),
    "not_subscribed_role": (
        "您在该项目中没有角色，无权查看。",
        "You hold no role in this stream.",
        False,
        True,
    ),
    "wrong_phase": ("当前阶段不允许此操作。", "Not allowed in the current phase.", False, True),
    "not_yours": ("这不属于您。", "This is not yours.", False, True),
    "unknown_stream": ("项目或会话不存在。", "No such tender or session.", False, False),
    "already_exists": ("已存在。", "It already exists.", False, False),
    "id_reused": (
        "命令编号已用于另一条命令。",
        "This command id was used for a different command.",
        False,
        False,
    ),
    "rule": ("不符合规则。", "Refused by the rules.", False, True),
    "store_unavailable": (
        "数据库暂时不可用，请稍后重试。",
        "Storage is unavailable; retry later.",
        True,
        False,
    ),
    "overloaded": ("服务繁忙，请稍后重试。", "The node is overloaded; retry later.", True, False),
    "internal": ("内部错误，已记录。", "Internal error; it has been logged.", True, False),
}


def sentence(code: str, lang: str = "zh-CN") -> str:
    entry = CATALOG.get(code)
    if entry is None:
        return code
    return entry[1] if lang.startswith("en") else entry[0]


def is_retryable(code: str) -> bool:
    entry = CATALOG.get(code)
    return bool(entry and entry[2])


def is_recorded(code: str) -> bool:
    """Refusals of an authenticated participant that the audit log keeps as attempts."""
    entry = CATALOG.get(code)
    return entry[3] if entry else True


@dataclass
class Refusal(Exception):
    """A command or request refused with a stable code; nothing was changed."""

    code: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code

    def to_message(self, lang: str = "zh-CN", ref: str | None = None) -> dict[str, object]:
        msg: dict[str, object] = {
            "t": "error",
            "code": self.code,
            "message": sentence(self.code, lang),
            "retryable": is_retryable(self.code),
        }
        if self.detail:
            msg["detail"] = self.detail
        if ref is not None:
            msg["id"] = ref
        return msg
