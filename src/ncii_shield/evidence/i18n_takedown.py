"""The evidence report's takedown strings (its section on notices, clocks and removals), per language.

Kept apart from i18n.py, which merges them into its tables: the same keys in both languages (a test
checks), and never the English left in the Korean report.
"""

from __future__ import annotations

STEPS_EN = {
    "td_drafted": "drafted",
    "td_queued": "approved for sending",
    "td_sending": "sending",
    "td_sent": "sent",
    "td_resent": "re-sent (reminder)",
    "td_send_failed": "sending failed",
    "td_interrupted": "sending interrupted",
    "td_resend_due": "re-submission due",
    "td_acknowledged": "acknowledged",
    "td_closed": "closed",
    "td_removed": "removed",
    "td_still_up": "still up",
    "td_unknown": "recheck could not tell",
    "td_escalated": "escalated to the regulator",
    "td_reappeared": "reappeared (re-upload)",
}
STEPS_KO = {
    "td_drafted": "작성",
    "td_queued": "발송 승인",
    "td_sending": "발송 중",
    "td_sent": "발송",
    "td_resent": "재요청 발송",
    "td_send_failed": "발송 실패",
    "td_interrupted": "발송 중단",
    "td_resend_due": "재제출 필요",
    "td_acknowledged": "접수 확인",
    "td_closed": "종결",
    "td_removed": "삭제 확인",
    "td_still_up": "게시 중",
    "td_unknown": "재확인 결과 불명",
    "td_escalated": "심의기관 신고",
    "td_reappeared": "재유포 발견",
}

TAKEDOWN_EN: dict[str, str] = {
    **STEPS_EN,
    "nav_takedown": "Takedown",
    "heading_takedown": "Takedown: notices, deadlines and removals",
    "takedown_note": (
        "Every recorded step of each notice, in order (UTC, by the database's clock). The deadline runs from "
        "the first send; re-sends do not restart it. Met: every item removed by the deadline. Late: removed, "
        "the last after the deadline. Overdue: past the deadline with content still up. Running: before the "
        "deadline. The same record is in takedown-timeline.json, covered by the bundle's signed manifest."
    ),
    "takedown_as_of": "As of {at} UTC.",
    "takedown_none": "No takedown notice has been drafted for this case.",
    "heading_notice": "Notice {id} – {platform}",
    "label_td_channel": "Sent by",
    "label_td_status": "Notice status",
    "label_td_created": "Drafted",
    "label_td_sent": "First sent",
    "label_td_due": "Deadline",
    "label_td_verdict": "Deadline outcome",
    "label_td_resends": "Reminders sent",
    "label_td_escalated": "Escalated to the regulator",
    "channel_email": "e-mail",
    "channel_web_form": "the platform's web form",
    "hours_value": "{h} h",
    "verdict_met": "met",
    "verdict_late": "late",
    "verdict_overdue": "overdue",
    "verdict_running": "running",
    "verdict_unsent": "not sent",
    "th_td_item": "Item",
    "th_td_url": "Reported address",
    "th_td_status": "Item status",
    "th_td_removed": "Removal seen (UTC)",
    "th_td_hours": "Hours to removal",
    "th_td_at": "Time (UTC)",
    "th_td_step": "Step",
    "th_td_by": "Recorded by",
    "th_td_detail": "Evidence",
    "heading_transparency": "Time to removal per platform",
    "transparency_note": (
        "Sent notices only. Hours run from the notice's first send to the removal. The median of an even "
        "count is the mean of the two middle values; the 90th percentile is the nearest rank. Removed within "
        "48 h is out of the items whose 48 hours are decided (removed, or still up 48 hours after sending)."
    ),
    "th_tr_platform": "Platform",
    "th_tr_notices": "Notices sent",
    "th_tr_items": "Items reported",
    "th_tr_removed": "Removed",
    "th_tr_median": "Median hours",
    "th_tr_p90": "90th percentile, hours",
    "th_tr_within": "Removed within 48 h",
    "th_tr_still_up": "Still up",
    "th_tr_reupload": "Re-upload rate",
    "th_tr_escalated": "Escalated",
    "tr_all": "All platforms",
    "tr_skew": "{n} removal(s) recorded before their notice was sent count as 0 hours (a clock set wrong).",
}

TAKEDOWN_KO: dict[str, str] = {
    **STEPS_KO,
    "nav_takedown": "삭제 요청",
    "heading_takedown": "삭제 요청: 요청, 처리 기한, 삭제 경과",
    "takedown_note": (
        "각 삭제 요청에 기록된 모든 단계를 순서대로 표시합니다(UTC, 데이터베이스 시계 기준). 처리 기한은 처음 "
        "보낸 때부터 계산하며 재요청으로 다시 시작되지 않습니다. 기한 내 삭제: 모든 게시물이 기한 안에 삭제됨. "
        "기한 후 삭제: 마지막 게시물이 기한 뒤에 삭제됨. 기한 초과: 기한이 지났으나 게시물이 남아 있음. 기한 "
        "진행 중: 기한 전. 같은 기록이 서명된 목록(manifest)이 보증하는 takedown-timeline.json 파일에도 있습니다."
    ),
    "takedown_as_of": "{at} UTC 기준.",
    "takedown_none": "이 사건에 대해 작성된 삭제 요청이 없습니다.",
    "heading_notice": "삭제 요청 {id} – {platform}",
    "label_td_channel": "발송 방법",
    "label_td_status": "요청 상태",
    "label_td_created": "작성 일시",
    "label_td_sent": "최초 발송",
    "label_td_due": "처리 기한",
    "label_td_verdict": "기한 준수 여부",
    "label_td_resends": "재요청 횟수",
    "label_td_escalated": "심의기관 신고",
    "channel_email": "전자우편",
    "channel_web_form": "플랫폼 웹 양식",
    "hours_value": "{h}시간",
    "verdict_met": "기한 내 삭제",
    "verdict_late": "기한 후 삭제",
    "verdict_overdue": "기한 초과",
    "verdict_running": "기한 진행 중",
    "verdict_unsent": "미발송",
    "th_td_item": "게시물",
    "th_td_url": "신고한 주소",
    "th_td_status": "게시물 상태",
    "th_td_removed": "삭제 확인(UTC)",
    "th_td_hours": "삭제까지 걸린 시간",
    "th_td_at": "일시(UTC)",
    "th_td_step": "단계",
    "th_td_by": "기록자",
    "th_td_detail": "증거",
    "heading_transparency": "플랫폼별 삭제 소요 시간",
    "transparency_note": (
        "보낸 요청만 계산합니다. 요청을 처음 보낸 때부터 삭제를 확인한 때까지의 시간입니다. 짝수 개의 중앙값은 "
        "가운데 두 값의 평균이고, 90백분위는 최근접 순위 방식입니다. 48시간 안에 삭제된 비율의 분모는 결과가 "
        "정해진 게시물입니다(삭제됨, 또는 발송 후 48시간이 지나도록 남아 있음)."
    ),
    "th_tr_platform": "플랫폼",
    "th_tr_notices": "보낸 요청",
    "th_tr_items": "신고한 게시물",
    "th_tr_removed": "삭제됨",
    "th_tr_median": "중앙값(시간)",
    "th_tr_p90": "90백분위(시간)",
    "th_tr_within": "48시간 안에 삭제",
    "th_tr_still_up": "게시 중",
    "th_tr_reupload": "재유포율",
    "th_tr_escalated": "심의기관 신고",
    "tr_all": "전체 플랫폼",
    "tr_skew": "요청을 보내기 전에 기록된 삭제 {n}건은 0시간으로 계산했습니다(시계 오류).",
}
