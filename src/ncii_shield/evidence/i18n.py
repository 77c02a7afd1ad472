"""Every fixed string of the evidence report, per language, so the HTML and the PDF say the same thing.

The report goes to Korean police and platforms as often as to English-speaking ones, and a report
half in English is one a case worker has to translate by hand before filing. Keeping the strings in
one table per language (with the same keys, which a test checks) means a string added to one
renderer cannot silently stay English in the other language.

Strings with `{placeholders}` are filled with `str.format`; user text is never formatted *into* a
key's template before escaping, the renderers escape the result as a whole. The Korean is the formal
register of Korean legal and evidence documents (합니다체, noun-phrase headings).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ncii_shield.evidence.i18n_takedown import TAKEDOWN_EN, TAKEDOWN_KO

__all__ = ["LANGUAGES", "STRINGS", "strings"]

_EN: dict[str, str] = {
    # document
    "html_lang": "en",
    "doc_title": "Case {case_id} ({pseudonym}) – evidence report",
    "heading_report": "Evidence report – case {case_id}",
    "notice_confidential": (
        "Confidential: this report identifies a person targeted by non-consensual intimate imagery. "
        "Share it only with people who act on it (police, the platform, the person's representative)."
    ),
    "notice_unblurred": (
        "This report contains unblurred thumbnails. They stay hidden until someone clicks “Show unblurred "
        "image”, but anyone who has this file can see them. Do not forward it further than needed."
    ),
    "notice_blurred": (
        "Thumbnails are blurred on purpose and this file does not contain the clear images. Each file is "
        "identified by its SHA-256 fingerprint, which the recipient can check against their own copy."
    ),
    # case facts
    "label_case": "Case",
    "label_person": "Person (pseudonym)",
    "label_generated": "Generated",
    "label_consent": "Consent",
    "label_references": "References enrolled",
    "label_sources": "Sources searched",
    "none_listed": "none listed",
    # navigation and section headings
    "nav_label": "Contents",
    "nav_how_to_read": "How to read",
    "heading_summary": "Summary",
    "heading_how_to_read": "How to read this report",
    "heading_images": "Where each image went",
    "heading_timeline": "Timeline",
    "heading_spread": "Spread",
    # summary
    "stat_copies": "Distinct copies (files)",
    "stat_sightings": "Sightings (messages)",
    "stat_chats": "Chats involved",
    "stat_first": "First seen (UTC)",
    "stat_last": "Last seen (UTC)",
    "matches_by_kind": "Matches by kind:",
    "no_matches": "no matches",
    # legend
    "legend_exact": "The file is identical to a known copy (same SHA-256 fingerprint). Strongest evidence.",
    "legend_pdq": (
        "The picture is visually the same as an enrolled photo even if resized or recompressed "
        "(Meta's PDQ hash; distance 0–256 bits, {pdq} or less is a match)."
    ),
    "legend_video": (
        "A stretch of this video matches an enrolled video frame by frame (PDQ on sampled frames, "
        "aligned in time)."
    ),
    "legend_partial": (
        "Part of an enrolled photo appears in this image: cropped, captioned, covered by stickers, one "
        "tile of a collage or inside a screenshot (multi-crop PDQ, or local features checked geometrically)."
    ),
    "legend_face": (
        "The person's face was recognised in an image that is otherwise different, e.g. a face pasted "
        "onto another body (face-embedding distance; below {face:.2f} is treated as the same person). "
        "Needs a human look before acting."
    ),
    "badge_first_seen": "first seen",
    "legend_first_seen": (
        "The earliest dated sighting of that file in the collected sources. It may have circulated "
        "earlier elsewhere."
    ),
    "badge_forwarded_legend": "forwarded from …",
    "legend_forwarded": (
        "Telegram marked the message as forwarded; the name is the original poster as shown by Telegram."
    ),
    "note_dates": (
        "All dates are in UTC. “unknown” means the source did not record a date. Nudity scores (0–1) are "
        "a model's estimate used only to order the review; they are not a finding."
    ),
    # match kinds, one line each (explain_kind)
    "kind_exact": "exact: the very same file, byte for byte (identical SHA-256)",
    "kind_pdq": "pdq: visually the same photo (PDQ perceptual hash)",
    "kind_pdq_distance": (
        "pdq: visually the same photo (PDQ distance {distance:.0f} of 256 bits; "
        "{threshold} or less counts as a match)"
    ),
    "kind_text": (
        "text: the message names the person (matched against the watchlist, kept only as keyed hashes)"
    ),
    "kind_video": "video: a clip of an enrolled video (matching frames, PDQ, in order)",
    "kind_partial": "partial: part of an enrolled photo (cropped, captioned, in a collage or a screenshot)",
    "kind_face": "face: the person's face appears in this image",
    "kind_face_distance": (
        "face: the person's face (distance {distance:.2f}; "
        "below {threshold:.2f} is treated as the same person)"
    ),
    "kind_other": "{kind}: matched by {kind}",
    # one copy
    "label_reference": "Reference:",
    "alt_blurred": "Blurred thumbnail of file {sha}",
    "alt_unblurred": "Unblurred thumbnail of file {sha}",
    "show_unblurred": "Show unblurred image",
    "thumb_none": "no image kept",
    "thumb_unreadable": "image could not be read",
    "label_sha256": "File SHA-256",
    "label_matched_as": "Matched as",
    "label_size": "Size",
    "label_nudity": "Nudity score",
    "nudity_note": "(model estimate, for ordering only)",
    "label_first_seen": "First seen",
    "label_sightings": "Sightings",
    "forwarded_from": "forwarded from",
    "no_sightings_file": "No sightings recorded for this file.",
    "no_copies": "No copies in this group.",
    "nothing_matched": "Nothing matched this case in the sources searched.",
    "unknown": "unknown",
    "no_chat": "(no chat)",
    # table headers
    "th_date": "Date (UTC)",
    "th_chat": "Chat",
    "th_message": "Message",
    "th_sender": "Sender",
    "th_forwarded_from": "Forwarded from",
    "th_reply_to": "Reply to",
    "th_media_path": "Media path",
    "th_text": "Text",
    "th_file": "File",
    "th_matched": "Matched",
    "th_source": "Source",
    "th_sightings": "Sightings",
    "th_files": "Files",
    "th_forwarded": "Forwarded",
    "th_first_seen": "First seen (UTC)",
    "th_last_seen": "Last seen (UTC)",
    # timeline chart
    "chart_y_axis": "Sightings",
    "chart_unit_day": "Day (UTC)",
    "chart_unit_week": "Week starting Monday (UTC)",
    "chart_unit_month": "Month (UTC)",
    "chart_bar_one": "{when}: {n} sighting",
    "chart_bar_other": "{when}: {n} sightings",
    "chart_bar_week_one": "week of {when}: {n} sighting",
    "chart_bar_week_other": "week of {when}: {n} sightings",
    "chart_desc_day": (
        "Sightings per day from {start} to {end}: {n} dated sightings, at most {top} in one day."
    ),
    "chart_desc_week": (
        "Sightings per week from {start} to {end}: {n} dated sightings, at most {top} in one week."
    ),
    "chart_desc_month": (
        "Sightings per month from {start} to {end}: {n} dated sightings, at most {top} in one month."
    ),
    "undated_one": "{n} sighting without a date is not in the chart.",
    "undated_other": "{n} sightings without a date are not in the chart.",
    "no_dated": "No dated sightings to chart.",
    # spread
    "spread_note": "One row per chat, in order of the first sighting there.",
    "no_sightings": "No sightings.",
    # spread by image family (the same figures as the web app's Spread tab)
    "heading_families": "How far each photo spread",
    "families_note": (
        "Each enrolled photo with every copy of it (reposts, edits, crops, the face pasted elsewhere): where it "
        "first appeared, each room it reached with its counts, who forwarded it where, and when."
    ),
    "th_family": "Photo",
    "th_copies": "Copies",
    "th_first_appearance": "First appearance (UTC)",
    "th_first_room": "First room",
    "th_rooms": "Rooms",
    "th_top_spreader": "Top spreader",
    "th_posters": "Posters",
    "family_messages": "Messages naming the person",
    "families_paths": "Forwarded from → to",
    "families_timeline": "When copies appeared, room by room",
    "families_first": "first",
    "footer": (
        "Generated by ncii-shield {version} on {generated} UTC for case {case_id}. The report is produced "
        "from stored evidence only; producing it changed nothing in the evidence."
    ),
    # PDF only
    "pdf_running_head": "ncii-shield · case {case_id} · confidential",
    "pdf_page": "page {page} of {pages}",
    "pdf_subject": "Evidence report for case {case_id}",
    "pdf_more_rows": '… and {n} more: the HTML report and the bundle\'s manifest.json ("spread") list them all.',
    "th_spreader": "Spreader",
    "th_sender_id": "Sender id",
    "pdf_glyph_note": (
        "Characters the embedded font cannot display are written as [U+XXXX], their Unicode code point; "
        "the HTML report shows them as they are."
    ),
}

_KO: dict[str, str] = {
    # document
    "html_lang": "ko",
    "doc_title": "사건 {case_id} ({pseudonym}) – 증거 보고서",
    "heading_report": "증거 보고서 – 사건 {case_id}",
    "notice_confidential": (
        "대외비: 이 보고서에는 동의 없이 제작·유포된 성적 이미지의 피해자를 식별할 수 있는 정보가 "
        "담겨 있습니다. 조치를 담당하는 관계자(수사기관, 플랫폼, 피해자의 대리인)에게만 제공하십시오."
    ),
    "notice_unblurred": (
        "이 보고서에는 흐림 처리되지 않은 썸네일이 포함되어 있습니다. “흐림 처리 전 이미지 보기”를 "
        "누르기 전에는 표시되지 않으나, 이 파일을 가진 사람은 누구나 볼 수 있습니다. 필요한 범위를 "
        "넘어 전달하지 마십시오."
    ),
    "notice_blurred": (
        "썸네일은 의도적으로 흐림 처리되었으며, 이 파일에는 선명한 원본 이미지가 포함되어 있지 "
        "않습니다. 각 파일은 SHA-256 해시값으로 식별되며, 수신자는 보유한 사본과 대조하여 확인할 수 "
        "있습니다."
    ),
    # case facts
    "label_case": "사건 번호",
    "label_person": "피해자(가명)",
    "label_generated": "작성 일시",
    "label_consent": "동의 내역",
    "label_references": "등록된 기준 자료",
    "label_sources": "조사 대상 출처",
    "none_listed": "기재 없음",
    # navigation and section headings
    "nav_label": "목차",
    "nav_how_to_read": "읽는 방법",
    "heading_summary": "요약",
    "heading_how_to_read": "보고서 읽는 방법",
    "heading_images": "이미지별 전달 경로",
    "heading_timeline": "시간순 경과",
    "heading_spread": "대화방별 유포 현황",
    # summary
    "stat_copies": "서로 다른 사본(파일)",
    "stat_sightings": "확인 건수(메시지)",
    "stat_chats": "관련 대화방 수",
    "stat_first": "최초 확인(UTC)",
    "stat_last": "최종 확인(UTC)",
    "matches_by_kind": "유형별 일치 건수:",
    "no_matches": "일치 없음",
    # legend
    "legend_exact": "알려진 사본과 동일한 파일입니다(SHA-256 해시값 일치). 가장 강력한 증거입니다.",
    "legend_pdq": (
        "크기 변경이나 재압축이 있더라도 등록된 사진과 시각적으로 동일한 이미지입니다(Meta의 PDQ "
        "해시, 거리 0–256비트, {pdq} 이하를 일치로 판정)."
    ),
    "legend_video": (
        "이 동영상의 일부 구간이 등록된 동영상과 프레임 단위로 일치합니다(추출한 프레임의 PDQ를 시간 "
        "순서에 맞추어 대조)."
    ),
    "legend_partial": (
        "등록된 사진의 일부가 이 이미지에 포함되어 있습니다. 잘라내기, 문구 삽입, 스티커로 가리기, "
        "콜라주의 한 부분, 화면 캡처 속 이미지 등이 해당합니다(다중 영역 PDQ 또는 기하학적으로 검증한 "
        "국소 특징점 대조)."
    ),
    "legend_face": (
        "전체적으로는 다른 이미지에서 피해자의 얼굴이 인식되었습니다. 예를 들어 다른 사람의 신체에 "
        "얼굴을 합성한 경우입니다(얼굴 임베딩 거리, {face:.2f} 미만을 동일인으로 판단). 조치 전에 "
        "사람이 직접 확인하여야 합니다."
    ),
    "badge_first_seen": "최초 확인",
    "legend_first_seen": (
        "수집된 출처에서 해당 파일이 확인된 가장 이른 일시입니다. 그 이전에 다른 곳에서 유포되었을 수 "
        "있습니다."
    ),
    "badge_forwarded_legend": "전달 출처: …",
    "legend_forwarded": (
        "텔레그램이 해당 메시지를 전달된 메시지로 표시한 경우이며, 이름은 텔레그램에 표시된 최초 "
        "게시자입니다."
    ),
    "note_dates": (
        "모든 일시는 UTC 기준입니다. “미상”은 출처에 일시가 기록되지 않았음을 뜻합니다. 노출도 "
        "점수(0–1)는 검토 순서를 정하기 위한 모델의 추정치일 뿐이며, 판단 결과가 아닙니다."
    ),
    # match kinds, one line each (explain_kind)
    "kind_exact": "exact: 바이트 단위까지 동일한 파일(SHA-256 일치)",
    "kind_pdq": "pdq: 시각적으로 동일한 사진(PDQ 지각 해시)",
    "kind_pdq_distance": (
        "pdq: 시각적으로 동일한 사진(PDQ 거리 256비트 중 {distance:.0f}비트, {threshold} 이하를 일치로 판정)"
    ),
    "kind_text": "text: 메시지가 피해자를 지칭함(감시 목록과 대조, 식별 정보는 키 기반 해시로만 보관)",
    "kind_video": "video: 등록된 동영상의 한 구간(프레임별 PDQ를 시간 순서대로 대조)",
    "kind_partial": "partial: 등록된 사진의 일부(잘라내기, 문구 삽입, 콜라주 또는 화면 캡처)",
    "kind_face": "face: 이 이미지에 피해자의 얼굴이 나타남",
    "kind_face_distance": (
        "face: 피해자의 얼굴(거리 {distance:.2f}, {threshold:.2f} 미만이면 동일인으로 판단)"
    ),
    "kind_other": "{kind}: {kind} 방식으로 일치",
    # one copy
    "label_reference": "기준 자료:",
    "alt_blurred": "파일 {sha}의 흐림 처리된 썸네일",
    "alt_unblurred": "파일 {sha}의 흐림 처리 전 썸네일",
    "show_unblurred": "흐림 처리 전 이미지 보기",
    "thumb_none": "보관된 이미지 없음",
    "thumb_unreadable": "이미지를 읽을 수 없음",
    "label_sha256": "파일 SHA-256",
    "label_matched_as": "일치 유형",
    "label_size": "크기",
    "label_nudity": "노출도 점수",
    "nudity_note": "(모델 추정치, 검토 순서 결정용)",
    "label_first_seen": "최초 확인",
    "label_sightings": "확인 건수",
    "forwarded_from": "전달 출처:",
    "no_sightings_file": "이 파일의 확인 기록이 없습니다.",
    "no_copies": "이 그룹에 해당하는 사본이 없습니다.",
    "nothing_matched": "조사한 출처에서 이 사건과 일치하는 항목이 발견되지 않았습니다.",
    "unknown": "미상",
    "no_chat": "(대화방 없음)",
    # table headers
    "th_date": "일시(UTC)",
    "th_chat": "대화방",
    "th_message": "메시지 번호",
    "th_sender": "발신자",
    "th_forwarded_from": "전달 출처",
    "th_reply_to": "답장 대상",
    "th_media_path": "파일 경로",
    "th_text": "메시지 내용",
    "th_file": "파일",
    "th_matched": "일치 대상",
    "th_source": "출처",
    "th_sightings": "확인 건수",
    "th_files": "파일 수",
    "th_forwarded": "전달 건수",
    "th_first_seen": "최초 확인(UTC)",
    "th_last_seen": "최종 확인(UTC)",
    # timeline chart
    "chart_y_axis": "확인 건수",
    "chart_unit_day": "일(UTC)",
    "chart_unit_week": "주(월요일 시작, UTC)",
    "chart_unit_month": "월(UTC)",
    "chart_bar_one": "{when}: {n}건",
    "chart_bar_other": "{when}: {n}건",
    "chart_bar_week_one": "{when} 시작 주: {n}건",
    "chart_bar_week_other": "{when} 시작 주: {n}건",
    "chart_desc_day": "{start}부터 {end}까지의 일별 확인 건수: 일시가 기록된 확인 {n}건, 하루 최대 {top}건.",
    "chart_desc_week": (
        "{start}부터 {end}까지의 주별 확인 건수: 일시가 기록된 확인 {n}건, 한 주 최대 {top}건."
    ),
    "chart_desc_month": (
        "{start}부터 {end}까지의 월별 확인 건수: 일시가 기록된 확인 {n}건, 한 달 최대 {top}건."
    ),
    "undated_one": "일시가 기록되지 않은 {n}건은 그래프에 포함되지 않았습니다.",
    "undated_other": "일시가 기록되지 않은 {n}건은 그래프에 포함되지 않았습니다.",
    "no_dated": "그래프로 표시할 일시 기록이 없습니다.",
    # spread
    "spread_note": "대화방마다 한 행씩, 해당 대화방에서 처음 확인된 순서로 표시합니다.",
    "no_sightings": "확인 기록이 없습니다.",
    # spread by image family (the same figures as the web app's Spread tab)
    "heading_families": "사진별 유포 범위",
    "families_note": (
        "등록한 사진마다 모든 사본(재게시, 편집, 잘라낸 사진, 다른 이미지에 합성된 얼굴)을 묶어, 처음 나타난 곳, "
        "퍼진 대화방과 건수, 어디에서 어디로 전달되었는지, 그 시점을 보여 줍니다."
    ),
    "th_family": "사진",
    "th_copies": "사본",
    "th_first_appearance": "최초 등장 (UTC)",
    "th_first_room": "최초 대화방",
    "th_rooms": "대화방",
    "th_top_spreader": "최다 유포자",
    "th_posters": "게시자",
    "family_messages": "피해자를 언급한 메시지",
    "families_paths": "전달 경로 (출처 → 대화방)",
    "families_timeline": "대화방별 사본 등장 시점",
    "families_first": "최초",
    "footer": (
        "이 보고서는 ncii-shield(버전 {version})로 {generated} UTC에 사건 {case_id}에 대하여 "
        "작성되었습니다. 저장된 증거만을 바탕으로 작성되었으며, 작성 과정에서 증거는 변경되지 않았습니다."
    ),
    # PDF only
    "pdf_running_head": "ncii-shield · 사건 {case_id} · 대외비",
    "pdf_page": "{page} / {pages} 쪽",
    "pdf_subject": "사건 {case_id} 증거 보고서",
    "pdf_more_rows": '… 외 {n}건: HTML 보고서와 증거 묶음의 manifest.json("spread")에 모두 있습니다.',
    "th_spreader": "유포자",
    "th_sender_id": "발신자 ID",
    "pdf_glyph_note": (
        "내장 글꼴로 표시할 수 없는 문자는 유니코드 코드 포인트인 [U+XXXX] 형식으로 표기하였습니다. "
        "HTML 보고서에는 원래 문자 그대로 표시됩니다."
    ),
}

_EN.update(TAKEDOWN_EN)  # the takedown section's strings (evidence/i18n_takedown.py)
_KO.update(TAKEDOWN_KO)

# Read-only views: a renderer that changed a shared string would change every later report.
STRINGS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"en": MappingProxyType(_EN), "ko": MappingProxyType(_KO)}
)
LANGUAGES: tuple[str, ...] = tuple(STRINGS)


def strings(language: str) -> Mapping[str, str]:
    """The string table of `language`; an unsupported one is an error, never a silent fallback to English."""
    try:
        return STRINGS[language]
    except (KeyError, TypeError):
        raise ValueError(
            f"unsupported report language {language!r}; supported: {', '.join(LANGUAGES)}"
        ) from None
