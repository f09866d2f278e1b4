"""Crawl maps of the shipped sandbox IVRs, written down by the test author.

The explorer is not what these tests judge, so the maps are written by hand: the structure
from reading scripts/failing/ivr.yaml and scripts/acme/ivr.yaml, the prompts as the Moonshine
engine transcribed those phone systems' audio (mishearings included), and the figures as the
sandbox produces them. They are what a faithful crawl of those phone systems would contain.
"""

from __future__ import annotations

from shopper.crawl.map import CrawlMap, Evidence, MapNode, Option


def _evidence(call: str, start_s: float, end_s: float) -> list[Evidence]:
    return [Evidence(call, start_s, end_s, f"calls/{call}/recording.wav")]


def globex_map() -> CrawlMap:
    """Globex Utilities (scripts/failing/ivr.yaml): a circular transfer, a 0 that repeats the
    menu, a support queue that drops the call, dead air, and a line not in service."""
    return CrawlMap(
        target="scripts/failing/ivr.yaml",
        started_at="2024-05-06T14:00:00Z",
        engine="moonshine",
        calls=9,
        call_seconds=412.0,
        lower_bound_s=131.0,
        wall_s=95.0,
        lines=2,
        nodes=[
            MapNode(
                id="main",
                prompt=(
                    "Thank you for calling Globe's utilities. Forbillion, press one. For "
                    "technical support, press to to report an outage, press free to repeat "
                    "these auctions, press zero."
                ),
                kind="menu",
                path=[],
                options=[
                    Option("1", "billion", "billing"),
                    Option("2", "technical support", "support"),
                    Option("3", "report an outage", "outage"),
                    Option("0", "repeat these auctions", "main"),
                    Option("*", None, "main", offered=False),
                    Option("#", None, "main", offered=False),
                ],
                evidence=_evidence("call-1", 2.26, 14.02),
            ),
            MapNode(
                id="billing",
                prompt=(
                    "All billing rep presentitives are busy transferring you to customer service"
                ),
                kind="message",
                path=["1"],
                options=[Option("", None, "customer-service")],
                evidence=_evidence("call-2", 16.0, 20.2),
            ),
            MapNode(
                id="customer-service",
                prompt=(
                    "Customer service cannot help with billing questions. Transferring you to "
                    "billing."
                ),
                kind="message",
                path=["1"],
                options=[Option("", None, "billing")],
                evidence=_evidence("call-2", 20.6, 25.0),
            ),
            MapNode(
                id="support",
                prompt=(
                    "Technical support. Pour into met problems, dress one, Fourth-phone "
                    "service, press two to return to the main menu, press nine."
                ),
                kind="menu",
                path=["2"],
                options=[
                    Option("1", "into met problems", "support-queue"),
                    Option("2", "phone service", "phone-support"),
                    Option("9", "return to the main menu", "main"),
                    Option("0", None, "support", offered=False),
                    Option("*", None, "support", offered=False),
                    Option("#", None, "support", offered=False),
                ],
                evidence=_evidence("call-3", 15.76, 24.22),
            ),
            MapNode(
                id="support-queue",
                prompt=(
                    "Please hold while we try to connect you. All of our technicians are "
                    "assisting other customers. Please stay on the line."
                ),
                kind="queue",
                path=["2", "1"],
                options=[Option("", None, "support-drop")],
                hold_s=40.0,
                callback_offered=False,
                evidence=_evidence("call-4", 27.0, 69.0),
            ),
            MapNode(
                id="support-drop",
                prompt="",
                kind="dropped",
                path=["2", "1"],
                hold_s=40.0,
                evidence=_evidence("call-4", 69.0, 69.0),
            ),
            MapNode(
                id="phone-support",
                prompt="Connecting you to phone support.",
                kind="dropped",
                path=["2", "2"],
                evidence=_evidence("call-5", 27.0, 29.0),
            ),
            MapNode(
                id="outage",
                prompt="The number you have dialed is not in service.",
                kind="tone",
                path=["3"],
                evidence=_evidence("call-6", 16.0, 21.0),
            ),
        ],
    )


def acme_map() -> CrawlMap:
    """Acme Bank (scripts/acme/ivr.yaml) during opening hours: every menu reaches a person,
    but 0 at card services and at loans only repeats the menu."""
    return CrawlMap(
        target="scripts/acme/ivr.yaml",
        started_at="2024-05-06T14:00:00Z",
        engine="moonshine",
        calls=16,
        call_seconds=905.0,
        lower_bound_s=260.0,
        wall_s=240.0,
        lines=2,
        nodes=[
            MapNode(
                id="main",
                prompt=(
                    "Thank you for calling Acme bank. Four billion in payments, press one. "
                    "Fore-card services, breast-tooth, For loans and mortgages, press free to "
                    "speak with a representative, press zero."
                ),
                kind="menu",
                path=[],
                options=[
                    Option("1", "billion in payments", "billing"),
                    Option("2", "card services", "cards"),
                    Option("3", "loans and mortgages", "loans"),
                    Option("0", "speak with a representative", "hold-intro"),
                    Option("*", None, "not-valid", offered=False),
                    Option("#", None, "not-valid", offered=False),
                ],
                evidence=_evidence("call-1", 4.34, 17.38),
            ),
            MapNode(
                id="not-valid",
                prompt="Sorry, that is not a valid choice.",
                kind="message",
                path=["*"],
                options=[Option("", None, "main")],
            ),
            MapNode(
                id="billing",
                prompt=(
                    "Billing and payments. To hear your balance, press one. To make a payment, "
                    "press two. To speak with a billing specialist, press zero. To return to "
                    "the main menu, press nine."
                ),
                kind="menu",
                path=["1"],
                options=[
                    Option("1", "hear your balance", "balance"),
                    Option("2", "make a payment", "payment"),
                    Option("0", "speak with a billing specialist", "hold-intro"),
                    Option("9", "return to the main menu", "main"),
                    Option("*", None, "billing", offered=False),
                ],
            ),
            MapNode(
                id="balance",
                prompt="Your current balance is one hundred twenty four dollars and fifty cents.",
                kind="message",
                path=["1", "1"],
                options=[Option("", None, "billing")],
            ),
            MapNode(
                id="payment",
                prompt="To make a payment, visit acme bank dot com or use the Acme mobile app.",
                kind="message",
                path=["1", "2"],
                options=[Option("", None, "billing")],
            ),
            MapNode(
                id="cards",
                prompt=(
                    "Card services, To report a lost or stolen card, press one. To activate a "
                    "new card, press to to return to the main menu, press 9."
                ),
                kind="menu",
                path=["2"],
                options=[
                    Option("1", "report a lost or stolen card", "card-security"),
                    Option("2", "activate a new card", "activation"),
                    Option("9", "return to the main menu", "main"),
                    Option("0", None, "cards", offered=False),
                ],
                evidence=_evidence("call-2", 19.22, 28.54),
            ),
            MapNode(
                id="activation",
                prompt="Your card has been activated. Thank you for choosing Acme Bank.",
                kind="message",
                path=["2", "2"],
                options=[Option("", None, "cards")],
            ),
            MapNode(
                id="card-security",
                prompt="Please hold while we try to connect you.",
                kind="queue",
                path=["2", "1"],
                options=[Option("", None, "priya")],
                hold_s=21.0,
                callback_offered=False,
                evidence=_evidence("call-2", 30.14, 53.5),
            ),
            MapNode(
                id="priya",
                prompt=(
                    "Cards of Pierre-je, this is Priet. I can block your card right away. May I "
                    "have your name?"
                ),
                kind="human",
                path=["2", "1"],
                time_to_human_s=53.5,
                evidence=_evidence("call-2", 53.5, 59.82),
            ),
            MapNode(
                id="loans",
                prompt=(
                    "The loans and mortgages. Born in existing mortgage, press one. Boring you, "
                    "thou sin alone, press to to return to the main-man-year, press nine."
                ),
                kind="menu",
                path=["3"],
                options=[
                    Option("1", "existing mortgage", "mortgage-away"),
                    Option("2", "thou sin alone", "hold-intro"),
                    Option("9", "return to the main man year", "main"),
                    Option("0", None, "loans", offered=False),
                ],
            ),
            MapNode(
                id="mortgage-away",
                prompt="Our mortgage team is away from their desks.",
                kind="message",
                path=["3", "1"],
                options=[Option("", None, "voicemail")],
            ),
            MapNode(
                id="voicemail",
                prompt=(
                    "Please leave your message out to the tone when done, hang up, or press the "
                    "pound key."
                ),
                kind="voicemail",
                path=["3", "1"],
            ),
            MapNode(
                id="hold-intro",
                prompt="Please hold for the next available representative.",
                kind="message",
                path=["0"],
                options=[Option("", None, "queue")],
            ),
            MapNode(
                id="queue",
                prompt="To receive a call back instead of holding, press one.",
                kind="queue",
                path=["0"],
                options=[
                    Option("", None, "sam"),
                    Option("1", "receive a call back instead of holding", "callback"),
                ],
                hold_s=45.0,
                callback_offered=True,
            ),
            MapNode(
                id="sam",
                prompt="Thank you for calling Acme Bank, this is Sam. How can I help you today?",
                kind="human",
                path=["0"],
                time_to_human_s=67.0,
            ),
            MapNode(
                id="callback",
                prompt=(
                    "Thank you. We will call you back within the hour at the number you are "
                    "calling from."
                ),
                kind="message",
                path=["0", "1"],
                options=[Option("", None, "goodbye")],
            ),
            MapNode(id="goodbye", prompt="Goodbye.", kind="message", path=["0", "1"]),
        ],
    )
