"""The demo's manual: one version, drafted, submitted and approved through the real workflow
(so the audit log shows its steps), with a script for every procedure and a short FAQ."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.manuals import service
from cloud.manuals.models import ManualVersion
from cloud.routing.models import Procedure

AUTHOR = "demo-admin"
REVIEWER = "demo-city"


def _steps(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"title": title, "body": body} for title, body in pairs]


GREETING = (
    "ごあいさつと本人確認の前置き",
    "「お待たせしました。オンライン窓口の担当〇〇です。本日はどのようなお手続きでしょうか。」"
    "画面と音声が届いているか確認し、聞こえにくい場合は受話器の音量ボタンを案内する。",
)

SCRIPTS: dict[str, list[dict[str, str]]] = {
    Procedure.HEALTH_INSURANCE: _steps(
        GREETING,
        (
            "カードの読み取り",
            "「マイナンバーカードを読み取り台に置いてください。」カードリーダー欄で読み取りを"
            "確認する。利用者証明用暗証番号の残り回数が1回以下なら、入力前に必ず伝える。",
        ),
        (
            "暗証番号の入力",
            "「数字4桁の暗証番号をテンキーで入力してください。画面には表示されません。」"
            "『暗証番号の入力段階にする』を押し、住民の入力中はこちらの画面を見ない。",
        ),
        (
            "利用規約への同意と登録",
            "マイナポータルの健康保険証利用登録画面で、利用規約を読み上げ要点を説明し、"
            "住民本人に『同意して申し込む』を押してもらう。",
        ),
        (
            "完了の確認",
            "「登録が完了しました。医療機関で利用できるまで数日かかる場合があります。」"
            "カードの取り忘れがないよう声をかけ、対応結果を『完了』で記録する。",
        ),
    ),
    Procedure.PUBLIC_FUNDS_ACCOUNT: _steps(
        GREETING,
        (
            "カードの読み取りとログイン",
            "カードを読み取り、利用者証明用暗証番号（数字4桁）でマイナポータルにログインする。",
        ),
        (
            "口座情報の確認",
            "「ご本人名義の口座の通帳かキャッシュカードをお手元にご用意ください。」"
            "口座番号は住民本人に入力してもらい、読み上げを求めない。",
        ),
        (
            "入力内容の確認と登録",
            "金融機関名・支店名・口座種別が画面の表示と一致しているか住民に確認してもらい、"
            "『登録』を押してもらう。",
        ),
        (
            "完了の確認",
            "「公金受取口座の登録が完了しました。変更はマイナポータルからいつでもできます。」",
        ),
    ),
    Procedure.OTHER_MYNAPORTAL: _steps(
        GREETING,
        (
            "ご用件の確認",
            "手続名（例: 薬剤情報の閲覧、証明書のコンビニ交付の確認など）を聞き取り、"
            "マイナポータルで扱える手続か確認する。扱えない場合は『窓口案内』の手順へ。",
        ),
        (
            "ログインと画面の案内",
            "カードを読み取りログインする。必要に応じて遠隔操作でメニューまで案内し、"
            "入力は住民本人に行ってもらう。",
        ),
        ("完了の確認", "目的の画面・手続が完了したか住民と一緒に確認する。"),
    ),
    Procedure.NEW_CARD: _steps(
        GREETING,
        (
            "交付申請書の確認",
            "「お手元に交付申請書（QRコード付き）はありますか。」申請書を読み取り台に置いて"
            "もらい『申請書を読み取る』で申請書IDを確認する。申請書がない場合は市民課へ案内。",
        ),
        (
            "顔写真の撮影",
            "「カメラの枠に顔を合わせてください。帽子・眼鏡の反射にご注意ください。」"
            "撮影ガイドを表示し、不適合の指摘があれば撮り直す。",
        ),
        (
            "申請内容の入力",
            "申請書IDを端末の入力欄に入力し、メールアドレスの登録は任意であることを伝える。",
        ),
        (
            "完了と受け取りの案内",
            "「申請を受け付けました。約1か月後に交付通知書が届きます。届いたら市民課で"
            "お受け取りください。」",
        ),
    ),
    Procedure.RENEWAL: _steps(
        GREETING,
        (
            "有効期限の確認",
            "カードまたは電子証明書の有効期限通知書を確認する。カードの更新か電子証明書の"
            "更新かを聞き分ける（電子証明書のみの更新は市民課窓口）。",
        ),
        (
            "申請書の読み取りと顔写真",
            "有効期限通知書の申請書IDを読み取り、新規交付申請と同じ手順で顔写真を撮影する。",
        ),
        (
            "完了と受け取りの案内",
            "「更新の申請を受け付けました。新しいカードの受け取り時に、今お持ちのカードを"
            "返納していただきます。」",
        ),
    ),
    Procedure.REFERRAL_ONLY: _steps(
        GREETING,
        (
            "対象外であることの説明",
            "オンライン窓口では扱えない理由（暗証番号のロック解除、代理人による申請、"
            "転入直後など）を丁寧に説明する。",
        ),
        (
            "案内先の表示",
            "『案内先窓口』で該当の窓口を選び『案内画面を表示』を押す。窓口の場所と"
            "受付時間を読み上げ、必要な持ち物（本人確認書類など）を伝える。",
        ),
        (
            "支援員への引き継ぎ",
            "高齢の方や案内が難しい場合は支援員を呼び、窓口まで同行を依頼する。"
            "対応結果は『窓口案内』で記録する。",
        ),
    ),
}

FAQ: list[dict[str, Any]] = [
    {
        "question": "暗証番号を3回間違えてロックされたと言われた",
        "answer": "ロックの解除はオンライン窓口ではできません。本人確認書類とカードを持って"
        "市民課マイナンバーカード窓口で再設定してください。『窓口案内』で記録します。",
        "tags": ["暗証番号", "ロック"],
    },
    {
        "question": "暗証番号を忘れた",
        "answer": "残り回数があっても推測で入力させないでください。市民課で再設定できます。"
        "コンビニでの再設定はスマートフォンでの事前申請が必要です。",
        "tags": ["暗証番号"],
    },
    {
        "question": "交付申請書を持っていない",
        "answer": "申請書がなくても市民課窓口で申請書を発行できます。オンライン窓口では"
        "申請書IDが必要なため、市民課へ案内してください。",
        "tags": ["申請書", "新規交付"],
    },
    {
        "question": "顔写真が何度撮っても不適合になる",
        "answer": "背景・帽子・眼鏡の反射・前髪を確認し、照明の位置を変えて撮り直します。"
        "3回不適合なら支援員を呼ぶか、写真を持参して市民課で申請するよう案内します。",
        "tags": ["顔写真", "撮影"],
    },
    {
        "question": "通話が途中で切れた",
        "answer": "端末は自動で再接続を試みます。住民がもう一度『呼び出す』を押すと待ち行列の"
        "先頭近くに戻ります。途中までの入力は端末に残っていない場合があります。",
        "tags": ["通信", "切断"],
    },
    {
        "question": "代理人（家族）が手続をしたい",
        "answer": "オンライン窓口は本人の手続のみです。代理人による申請は委任状と本人確認"
        "書類を持って市民課へ案内します。通訳・ご家族の同席は『第三者を招待』で可能です。",
        "tags": ["代理人", "家族"],
    },
    {
        "question": "健康保険証の利用登録はいつから使えるか",
        "answer": "登録直後から医療機関で使える場合が多いですが、保険者の情報登録が済むまで"
        "数日かかることがあります。",
        "tags": ["健康保険証"],
    },
    {
        "question": "公金受取口座に家族名義の口座を登録したい",
        "answer": "登録できるのは本人名義の口座だけです。本人名義の口座の通帳かキャッシュ"
        "カードを用意してもらいます。",
        "tags": ["公金受取口座", "口座"],
    },
]


async def seed_demo(db: AsyncSession) -> ManualVersion | None:
    """One approved manual version; nothing is added once any version exists (a restarted
    demo keeps what was written), and the version in force is returned."""
    if await service.versions(db=db):
        return await service.in_force(db=db)
    now = datetime.now(UTC)
    draft = await service.create_draft(
        db=db,
        actor=AUTHOR,
        based_on=None,
        change_note="初版（オンライン窓口の開設に合わせて作成）",
        now=now - timedelta(days=7),
    )
    await service.edit_draft(
        db=db,
        actor=AUTHOR,
        number=draft.number,
        change_note=draft.change_note,
        scripts={str(code): steps for code, steps in SCRIPTS.items()},
        faq=FAQ,
        now=now - timedelta(days=7),
    )
    await service.submit(db=db, actor=AUTHOR, number=draft.number, now=now - timedelta(days=6))
    return await service.approve(
        db=db, actor=REVIEWER, number=draft.number, now=now - timedelta(days=5)
    )
