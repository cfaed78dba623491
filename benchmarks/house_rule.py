"""A small labelled set encoding one house rule, for `bench_calibrate.py` and docs/calibration.md.

The house (a bank) gives ownership 2 only when the reply commits to an action AND names a time (a clock time,
a deadline) or a reference number. A committed action without either ("I'll reverse it now", "I'm sending it
today") is ownership 1 here, where the shipped labelling guide gives it 2. Empathy and script-avoidance
follow the shipped guide (models/LABELLING_GUIDE.md).

Every customer line and reply is new (none is in models/data/). Each line has a specific acknowledgement, the
same action with and without a time/reference, and a hand-off; replies combine them with generic openers and
stock phrases, so each line yields nine replies with known labels.

    python benchmarks/house_rule.py > house.jsonl      # the 252 rows in the training format
"""

from __future__ import annotations

import json
import sys

# (customer line, specific acknowledgement, action with a time or reference, the same action without, hand-off)
LINES = [
    ("My card was declined at the supermarket checkout and there's plenty of money in the account.",
     "That's embarrassing at a till with a queue behind you, and there's money there.",
     "I've lifted the block the fraud check put on your card; reference DK-2281, and it works again from 2:15.",
     "I've lifted the block the fraud check put on your card, so it works again.",
     "Card blocks are the fraud team's call, you'll have to phone them."),
    ("You charged me a £25 overdraft fee for going 40p over. Forty pence!",
     "Twenty-five pounds for forty pence is out of all proportion.",
     "I'm refunding the £25 fee now; it'll be back in your account by 5pm today.",
     "I'm refunding the £25 fee to your account.",
     "Fees are set by head office, so you'd need to write to them."),
    ("I moved house three months ago and you're still sending statements to my old address.",
     "Three months of your statements going to a stranger's door is worrying.",
     "I've updated your address and stopped post to the old one; your reference is AD-5510.",
     "I've updated your address and stopped the post to the old one.",
     "Address changes are done in the app, not here."),
    ("The transfer to my landlord hasn't arrived and he's threatening to charge me a late fee.",
     "A landlord on your back over money you did send is stressful.",
     "I've traced the payment and released it; he'll have it by 3pm, trace number TR-88214.",
     "I've traced the payment and released it to him.",
     "Once it's left us it's the receiving bank's problem, ask them."),
    ("Someone took £300 out of my account in another country and I've never been there.",
     "Finding £300 gone to a place you've never been is frightening.",
     "I've frozen the card and opened a fraud claim, number FC-40917; the £300 is back within 24 hours.",
     "I've frozen the card and opened a fraud claim for the £300.",
     "You'll need to report that to the police first."),
    ("I've been waiting six weeks for my new debit card.",
     "Six weeks without a card to pay with is a long time to manage.",
     "I've cancelled the lost order and sent a new card by courier; it arrives Thursday before noon.",
     "I've cancelled the lost order and sent a new card by courier.",
     "Cards come from our supplier, there's nothing I can chase."),
    ("Your app logged me out and now it won't accept my password.",
     "Being locked out of your own money is maddening.",
     "I've reset your login; the text with the code reaches you in the next two minutes.",
     "I've reset your login and a text with a code is on its way.",
     "App problems go to the digital helpdesk, not branch staff."),
    ("I asked for my mortgage statement a month ago and nothing came.",
     "A month of waiting when you need that statement is too long.",
     "I've printed the statement myself and it's in an envelope for you to take by 4 today, or posted tonight.",
     "I've printed the statement myself for you.",
     "Mortgages are a separate department; they have their own number."),
    ("The cash machine outside kept my card and didn't give me any money.",
     "Losing the card and the cash at once leaves you stuck.",
     "I've logged the machine fault as MF-3306 and the engineer opens it at 11; your card will be here by noon.",
     "I've logged the machine fault and asked for your card back.",
     "The machines are run by a contractor, you'd have to contact them."),
    ("I was told my loan would be decided in two days. It's been two weeks.",
     "Two weeks of not knowing when you were promised two days is unfair.",
     "I've pushed your application to an underwriter; you'll have a decision by Friday at 5, case LN-7720.",
     "I've pushed your application to an underwriter to decide.",
     "Lending decides in its own time, I can't speed it up."),
    ("You've paid the same direct debit twice this month.",
     "Paying twice when money's tight can knock everything else out.",
     "I've reversed the second payment; it's back in your account by tomorrow 9am, reference DD-1193.",
     "I've reversed the second payment.",
     "Talk to the company that took it, it's their direct debit."),
    ("I'm disabled and your branch steps mean I can't get in.",
     "Being kept out of your own branch by a flight of steps isn't right.",
     "I'll come out and serve you at the side door now, and I've booked the ramp survey for 14 March.",
     "I'll come out and serve you at the side door.",
     "Accessibility is facilities' job, you'd have to write in."),
    ("My savings rate dropped and nobody told me.",
     "Finding out your rate fell by chance, not from us, feels sneaky.",
     "I've moved you to the 4.1% account today; the switch shows by Monday, reference SV-6038.",
     "I've moved you to the 4.1% account.",
     "Rates are set centrally; there's a leaflet about it."),
    ("I was on hold for fifty minutes and then got cut off.",
     "Fifty minutes on hold and then cut off would make anyone furious.",
     "I'll deal with what you rang about myself, and it's done by 12:30; reference HC-2417.",
     "I'll deal with what you rang about myself.",
     "Phone waits are the call centre's business, not mine."),
    ("My business account has been frozen and I can't pay my staff on Friday.",
     "Payroll at stake with staff counting on you is serious.",
     "I've escalated the unfreeze to the review team, case BZ-9051, and they'll release it by Thursday noon.",
     "I've escalated the unfreeze to the review team.",
     "Business accounts are handled by relationship managers, email yours."),
    ("The cheque I paid in last week still hasn't cleared.",
     "A week is far longer than a cheque should take.",
     "I've chased the clearing centre; the funds are in your account by 6 tonight, reference CQ-3374.",
     "I've chased the clearing centre about your funds.",
     "Cheques take as long as they take, I'm afraid."),
    ("I was promised a callback yesterday and no one rang.",
     "You kept your phone by you all day for nothing.",
     "I'll ring you myself at 2 this afternoon, and I've noted it as CB-7742.",
     "I'll ring you myself later.",
     "Callbacks are booked by the contact centre, ring them."),
    ("You sent my new PIN to the wrong address.",
     "A PIN at a stranger's house is a worry as well as a nuisance.",
     "I've cancelled that PIN and ordered a new one to your address; it arrives by Wednesday, reference PN-5520.",
     "I've cancelled that PIN and ordered a new one to your address.",
     "PINs are sent by a separate unit, you'll have to phone."),
    ("The interest on my credit card is wrong, I paid it off in full.",
     "Being charged interest after paying in full isn't fair.",
     "I've removed the interest and refunded £18.40; it shows on tomorrow's statement, reference CC-6081.",
     "I've removed the interest and refunded the £18.40.",
     "Statements are worked out by the card centre, ask them."),
    ("I tried to close my late mother's account and was sent away with a form.",
     "Being handed a form while you're grieving your mother is hard.",
     "I'll take the details now and close it with you here; it's done by 3pm, case BR-2210.",
     "I'll take the details now and close it with you here.",
     "Bereavement cases go to a specialist team by post."),
    ("My standing order to my daughter didn't go out.",
     "Your daughter counting on that money makes this urgent.",
     "I've sent the payment manually; she'll have it within the hour, reference SO-8815.",
     "I've sent the payment manually to her.",
     "Standing orders are your responsibility to check."),
    ("I was charged for a foreign transaction on a purchase in pounds.",
     "A foreign fee on a sterling purchase is simply a mistake.",
     "I've refunded the £2.99 fee; it's in your account by Tuesday, reference FX-1172.",
     "I've refunded the £2.99 fee.",
     "That's the shop's card terminal, take it up with them."),
    ("My online banking shows a balance that's £500 less than it should be.",
     "£500 missing from what you see is alarming.",
     "I've found the held payment and released the £500; your balance is right by 11 tonight, ref BL-4630.",
     "I've found the held payment and released the £500.",
     "Online balances are the digital team's side, I can't see them."),
    ("I asked to increase my overdraft and heard nothing for ten days.",
     "Ten days of silence on something you need is poor.",
     "I've approved the £500 increase myself; it's live at 4pm today, reference OD-2257.",
     "I've approved the £500 increase myself.",
     "Overdraft requests are decided by lending, wait for their letter."),
    ("The branch closed early and my rent money is stuck here.",
     "Arriving to locked doors with rent due is awful.",
     "I'll open the counter for you now and the rent transfer goes at 9:05, reference RN-3349.",
     "I'll open the counter for you and send the rent transfer.",
     "Opening hours are on the website, you should have checked."),
    ("I'm getting texts about a loan I never took out.",
     "Texts about a loan in your name that you never took are scary.",
     "I've flagged the loan as fraud, case ID-6612, and stopped all texts; you'll get written confirmation by Friday.",
     "I've flagged the loan as fraud and stopped the texts.",
     "That's probably a scam, just ignore the texts."),
    ("My joint account partner left and I can't get him off the account.",
     "Being tied to an account with someone who's gone is stressful.",
     "I've started the removal with the papers you have; it's finished by the 20th, reference JA-7403.",
     "I've started the removal with the papers you have.",
     "He has to come in and sign himself, there's nothing I can do."),
    ("My pension payment went into the wrong account.",
     "Your pension going astray when you rely on it is worrying.",
     "I've recalled the payment from the other account; it's back with you by Thursday 10am, ref PR-9128.",
     "I've recalled the payment from the other account.",
     "The pension provider made the mistake, ring them."),
]

GENERIC = ["Sorry about that.", "Oh dear, sorry.", "Sorry to hear that.", "Apologies for that."]
FRUSTRATION = ["I understand your frustration.", "I appreciate this must be frustrating.",
               "I can see why you'd be frustrated."]
STOCK_AFTER = ["Is there anything else I can help you with today?", "Thank you for your patience.",
               "We value you as a customer."]
POLICY = ["As per our policy,", "In line with our procedures,", "In accordance with bank policy,"]
COLD = ["Right.", "OK.", ""]

HOUSE_RULE = "ownership 2 only with a time or a reference number"


def rows(lines=LINES) -> list[dict]:
    """Nine labelled replies per customer line (the house rule on ownership, the shipped guide elsewhere)."""
    out: list[dict] = []
    for k, (context, specific, with_time, without_time, handoff) in enumerate(lines):
        generic, frustration = GENERIC[k % len(GENERIC)], FRUSTRATION[k % len(FRUSTRATION)]
        stock, policy, cold = STOCK_AFTER[k % len(STOCK_AFTER)], POLICY[k % len(POLICY)], COLD[k % len(COLD)]
        replies = [
            (f"{specific} {with_time}", 2, 2, 2),
            (f"{specific} {without_time}", 2, 1, 2),
            (f"{generic} {with_time}", 1, 2, 2),
            (f"{generic} {without_time} {stock}", 1, 1, 1),
            (f"{frustration} {with_time}", 1, 2, 1),
            (f"{cold} {without_time}".strip(), 0, 1, 2),
            (f"{policy} {handoff[0].lower()}{handoff[1:]} {stock}", 0, 0, 0),
            (f"{specific} {handoff}", 2, 0, 2),
            (with_time, 0, 2, 2),
        ]
        for n, (reply, empathy, ownership, script) in enumerate(replies, 1):
            out.append({"id": f"house-{k + 1:02d}-{n}", "setting": "bank branch", "context": context,
                        "reply": reply, "empathy": empathy, "ownership": ownership, "script_avoidance": script})
    return out


if __name__ == "__main__":
    sys.stdout.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows()))
