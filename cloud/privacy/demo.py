"""The demo's consent documents: the versions its kiosks show (2026-04), recorded so the
inventory page and the kiosks' configuration name them."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.privacy import service
from cloud.privacy.models import ConsentKind

DEMO_VERSION = "2026-04"
DEMO_EFFECTIVE = date(2026, 4, 1)

TERMS_BODY = """\
この端末（オンライン窓口）は、マイナンバーカードの手続きを市の職員がビデオ通話で案内するためのものです。
1. 通話の映像・音声は録画・録音しません。
2. 顔写真・申請書ID・暗証番号・カードの情報は、この端末と担当職員の画面の間の
   暗号化された通話でのみ扱い、市のサーバーには保存しません。
3. 暗証番号は、ご自身でテンキーから入力してください。職員が暗証番号を尋ねることはありません。
4. 手続きの種類と結果（完了・未完了など）は、業務の報告のため、個人を特定しない形で記録します。
"""
PRIVACY_BODY = """\
市は、オンライン窓口で取得する個人情報を、個人情報の保護に関する法律に基づき適正に取り扱います。
1. 取得する情報: 通話中に表示される顔写真・申請書の内容・カードの券面情報
   （端末内で処理し、保存しません）。
2. 記録する情報: 通話の日時・設置場所・手続きの種類と結果・同意した規約の版
   （個人を特定する情報を含みません）。
3. 保存期間: 業務の記録は5年間保存し、その後削除します。
4. 第三者への提供: 法令に基づく場合を除き、行いません。
"""


async def seed_demo(db: AsyncSession) -> None:
    """Record the demo's current terms of use and privacy policy (once)."""
    existing = {(d.kind, d.version) for d in await service.documents(db=db)}
    for kind, title, body in (
        (ConsentKind.TERMS, "オンライン窓口 利用規約", TERMS_BODY),
        (ConsentKind.PRIVACY, "オンライン窓口における個人情報の取扱い", PRIVACY_BODY),
    ):
        if (kind.value, DEMO_VERSION) in existing:
            continue
        await service.create(
            db=db,
            kind=kind,
            version=DEMO_VERSION,
            title=title,
            body=body,
            effective_from=DEMO_EFFECTIVE,
            created_by="demo",
        )
