"""A second labelled house-rule set, for `bench_calibrate.py --rule callback` and docs/calibration.md.

The house (a regulated insurer) does not let its front-line staff decide claims, refunds or waivers: those are
the claims handlers' and underwriters' decisions, and a front-line promise of an outcome is a mis-selling risk.
So on ownership:

- 2: the reply takes the case on and books it in: logs it with a reference AND books the specialist's callback
  (or visit) at a stated time. ("I've logged it as HM-4471 and a claims handler will ring you at 10 tomorrow.")
- 1: passes the problem to the right team without a reference or a booked time ("I'll pass this to a claims
  handler"), as the shipped guide also gives 1.
- 0: a hand-off ("you'll have to ring the claims line"), as the guide gives 0 — and, unlike the guide, deciding
  or promising the outcome yourself ("I've paid the claim, the £640 is with you by Friday", "I'll waive the
  excess"): over-promising, which the shipped guide labels 2 (a concrete action, what and when).

So the rule reorders the shipped standard on ownership: the replies the guide ranks highest (a concrete
decision with a sum and a date) are the house's lowest. Empathy and script-avoidance follow the shipped guide
(models/LABELLING_GUIDE.md) and are labelled exactly as in benchmarks/house_rule.py.

Every customer line and reply is new (none is in models/data/ or models/eval/). Each line has a specific
acknowledgement, a booked callback, an outcome decided on the spot (a sum, a waiver, an approval, often with a
date), a plain pass-on to the team and a hand-off; replies combine them with generic openers and stock phrases,
so each line yields nine replies with known labels.

    python benchmarks/house_rule_callback.py > insurer.jsonl      # the 288 rows in the training format
"""

from __future__ import annotations

import json
import sys

# (customer line, specific acknowledgement, booked callback with a reference and a time (house 2),
#  the outcome decided on the spot (house 0, guide 2), a plain pass-on to the team (1), a hand-off (0))
LINES = [
    ("A pipe burst in the loft and the kitchen ceiling has come down. What do I do?",
     "A ceiling on your kitchen floor and water everywhere is a horrible thing to walk into.",
     "I've opened the claim as HM-40718 and booked the emergency assessor to ring you at 4 this afternoon.",
     "I've approved the claim and you can book a builder; we'll cover up to £5,000.",
     "I'll pass this to our home claims team.",
     "You'll need to fill in the online claim form first."),
    ("My car was written off three weeks ago and I still haven't been offered anything.",
     "Three weeks without a car or an offer leaves you stuck getting anywhere.",
     "I've logged a chase as MT-22914 and your claims handler, Priya, will call you tomorrow at 11.",
     "I'll settle it at £8,200 today, so you can start looking for a new car.",
     "I'll let the motor team know you're waiting.",
     "Valuations are done by the engineers, you'd have to contact them."),
    ("My suitcase never arrived in Spain and I had to buy clothes for the whole week.",
     "A whole holiday in shop-bought clothes isn't the break you paid for.",
     "Your claim is in as TR-5530, and a travel claims adviser rings you on Thursday at 2.",
     "I've paid out the £350 for the clothes; it'll reach your account by Monday.",
     "I'll send your details to the travel claims team.",
     "Lost luggage is the airline's responsibility, claim from them."),
    ("You've put my premium up by £300 and I haven't made a single claim.",
     "A £300 jump with a clean record feels like you're being punished for nothing.",
     "I've referred your renewal to underwriting as RN-8841; an underwriter will phone you at 9:30 on Monday.",
     "I'll knock the £300 off and keep you at last year's price.",
     "I'll ask underwriting to have a look at the price.",
     "Prices are set by the system, there's nothing I can do about it."),
    ("My dog needs an operation on Friday and the vet says you haven't confirmed cover.",
     "Waiting to hear whether your dog's operation can go ahead is an awful worry.",
     "I've logged the pre-authorisation as PT-3072 and the vet claims team will ring you and the vet by noon tomorrow.",
     "The operation's covered, tell the vet to go ahead on Friday.",
     "I'll forward the vet's request to the pet claims team.",
     "The vet has to send the paperwork to head office, not us."),
    ("Your assessor said the storm damage to my roof was wear and tear. It was the storm!",
     "Being told the storm that took your roof tiles was just old age is infuriating.",
     "I've raised a review of the decision as SD-6190 and a senior claims handler will call you on Wednesday at 3.",
     "I'm overturning that; the roof's covered as storm damage and we'll pay for the repair.",
     "I'll pass your disagreement on to the claims team.",
     "Assessors have the final say, you'd have to complain to the ombudsman."),
    ("I was charged a £50 cancellation fee for leaving after I moved abroad.",
     "Paying a fee just for moving country seems a bit much.",
     "I've logged a fee review as CF-1102 and the policy team will call you on Tuesday at 10.",
     "I'll waive the £50 fee and refund it to your card.",
     "I'll raise the fee with the policy team.",
     "The fee is in the terms you signed, please read them."),
    ("Someone reversed into my car in a car park and their insurer won't answer me.",
     "Being hit when it wasn't your fault and then ignored by them is maddening.",
     "I've opened a non-fault claim as NF-7735 and your handler will call you this afternoon at 5 to take it over.",
     "We'll pay for your repair now and get the money back from them; take it to any garage.",
     "I'll let the non-fault claims team know about it.",
     "You have to deal with their insurer yourself, it's their customer."),
    ("My mum's life insurance still hasn't paid out and the funeral is next week.",
     "Waiting on money for your mum's funeral while you're grieving her is far too much.",
     "I've logged it as urgent, LF-2218, and a bereavement handler will ring you at 10 tomorrow morning.",
     "I'm releasing the payout today, so the money's there for the funeral.",
     "I'll send this on to the bereavement team.",
     "Life claims need a death certificate posted to the claims address."),
    ("I cancelled my holiday because I broke my leg and you've refused the claim.",
     "A broken leg and a lost holiday, then a refusal, is a lot to take at once.",
     "I've asked for the refusal to be reviewed, case HC-6627, and a claims adviser calls you on Friday at 1.",
     "I've reversed the refusal and I'm paying the full £1,450 for the holiday.",
     "I'll ask someone in travel claims to look at it again.",
     "Refusals can only be challenged in writing, you'll have to send a letter."),
    ("My boiler broke and your emergency cover says the engineer can't come for six days.",
     "Six days without heating or hot water in this weather is miserable.",
     "I've logged an urgent chase as BL-9051 and the home emergency team will ring you by 6 tonight with a slot.",
     "I'll pay for you to get your own engineer in today and we'll refund it.",
     "I'll tell the home emergency team it's urgent.",
     "Engineers are run by our contractor, you'd need to call them."),
    ("You've taken my premium twice this month.",
     "Two payments out when you only owed one can throw your whole month out.",
     "I've logged the double payment as DP-3348 and accounts will call you at 2 tomorrow to confirm the refund.",
     "I've refunded the second payment; it's back in your account by Wednesday.",
     "I'll mention the double payment to our accounts team.",
     "Your bank took it, so you'd have to ask them."),
    ("My phone was stolen on holiday and you want a police report I can't get in English.",
     "Chasing a foreign police report after your phone was taken is a nightmare.",
     "I've opened the claim as GD-4409 and a gadget claims adviser will phone you at 11 on Tuesday to sort the report.",
     "I'll accept it without a report and send a replacement phone tomorrow.",
     "I'll check with gadget claims what else they'll take.",
     "We need the police report, there's no way round it."),
    ("My house was flooded and the loss adjuster hasn't turned up twice now.",
     "Waiting in a flooded house for someone who doesn't show, twice, is awful.",
     "I've logged a complaint as FL-5506 and booked a different loss adjuster to ring you at 8:30 tomorrow.",
     "Don't wait for him; I've approved the drying-out costs and the hotel for the week.",
     "I'll let the flood team know the adjuster missed you.",
     "The adjusters are independent, you have to rebook with them."),
    ("My policy auto-renewed and I didn't want it.",
     "Being renewed and charged for something you'd decided against is annoying.",
     "I've logged the cancellation as AR-1867 and the renewals team will call you at 3 tomorrow about the refund.",
     "I've cancelled it and refunded the full year; you'll see it by Friday.",
     "I'll pass your cancellation to the renewals team.",
     "Auto-renewal was explained in your documents."),
    ("I've been on hold for forty minutes to make a claim.",
     "Forty minutes on hold when you've got a claim to make is far too long.",
     "I'll take the claim details now, log it as CL-2961, and book your handler to ring you at 12:30.",
     "I'll sort the claim out myself right now and pay it today.",
     "I'll take your details and pass them to the claims team.",
     "Hold times are the contact centre's issue, not mine."),
    ("My windscreen's cracked and the repair company says you haven't authorised it.",
     "Driving about with a cracked windscreen while people argue over paperwork isn't safe.",
     "I've logged the authorisation as WS-6604 and the glass team will ring you and the repairer by 10 tomorrow.",
     "It's authorised; tell them to fit the new windscreen today.",
     "I'll let the glass claims team know.",
     "The repairer has to ring our glass line, not you."),
    ("The excess on my claim is more than the damage itself.",
     "Paying more in excess than the damage costs makes the whole policy feel pointless.",
     "I've logged it as EX-2253 and a claims handler will call you at 4 on Thursday to go through your options.",
     "I'll waive the excess this time so the claim's worth making.",
     "I'll ask a claims handler about your excess.",
     "The excess was your choice when you bought the policy."),
    ("Your repairer scratched my car while fixing the dent.",
     "Getting your car back with new damage from the repair is beyond annoying.",
     "I've logged a repair complaint as RP-3180 and the repair manager will call you tomorrow at 9.",
     "We'll pay for it to be resprayed at a garage of your choice.",
     "I'll pass the complaint on to the repair team.",
     "Take it up with the garage, it was their mistake."),
    ("My travel insurance won't cover my hospital bill because of a condition I did declare.",
     "Being refused after you did everything right and declared it is deeply unfair.",
     "I've flagged it as MD-8812 and a medical claims handler will ring you at 11 on Monday with the declaration in front of them.",
     "I've checked your declaration and I'm paying the hospital bill in full.",
     "I'll get the medical claims team to look at the declaration.",
     "Medical screening decides what's covered, ring the screening line."),
    ("I was told someone would visit to value my jewellery claim. Nobody came.",
     "Taking a day off for a visit that never happened is frustrating.",
     "I've logged the missed visit as JW-4427 and booked the valuer for Saturday at 10; they'll confirm by phone tonight.",
     "I'll accept your receipts instead and pay the £2,300 this week.",
     "I'll let the valuations team know nobody came.",
     "The valuers arrange their own diaries, ring them."),
    ("My landlord insurance claim for unpaid rent has been sitting there for two months.",
     "Two months without the rent while the mortgage still goes out is a real strain.",
     "I've escalated it as LL-7309 and your handler will call you on Wednesday at 2 with where it stands.",
     "I'll pay the two months' rent now and chase the tenant ourselves.",
     "I'll nudge the landlord claims team about it.",
     "Rent claims take as long as the legal process takes."),
    ("You cancelled my car insurance without telling me and I got stopped by the police.",
     "Getting stopped by the police for something you didn't know about is a shock.",
     "I've logged it as CX-5114 and the policy team will ring you by 5 today to put cover back and look at the fine.",
     "I've reinstated your cover and we'll pay the fine.",
     "I'll report it to the policy team.",
     "Cancellation letters go to the address you gave us."),
    ("My bike was stolen from my garden shed and you say sheds aren't covered.",
     "Losing your bike and then hearing the shed doesn't count is galling.",
     "I've logged a review as BK-6631 and a home claims adviser will phone you on Friday at 12 about the shed cover.",
     "I'll cover it as a one-off and pay you for the bike.",
     "I'll ask the home claims team whether sheds are covered.",
     "Outbuildings aren't covered, it's in the policy wording."),
    ("The courtesy car you promised never came and I can't get to work.",
     "Not getting to work because the car you were promised never came is serious.",
     "I've logged it as CC-1987 and the hire desk will call you at 8 tomorrow with the car's delivery time.",
     "I'll pay for taxis to work until your car's fixed.",
     "I'll tell the hire team the car didn't arrive.",
     "Courtesy cars are the garage's, you need to ask them."),
    ("My elderly dad was sold a policy he doesn't understand and can't afford.",
     "Your dad being sold something he doesn't understand is worrying.",
     "I've logged it as a sales review, SR-3356, and a specialist will ring you and your dad on Tuesday at 10.",
     "I'll cancel it and refund everything he's paid.",
     "I'll pass your concerns to the sales review team.",
     "He signed for it, so he'd need to write in himself."),
    ("Your surveyor said my subsidence claim needs monitoring for a year. A year!",
     "A year of watching the cracks in your walls grow is a long time to live with.",
     "I've logged a challenge as SB-9920 and the structural claims manager will call you on Monday at 3.",
     "We'll skip the monitoring and start the underpinning next month.",
     "I'll pass your worries about the monitoring on to structural claims.",
     "Subsidence always needs monitoring, that's just how it works."),
    ("I accidentally put my foot through the TV and the claim form keeps crashing.",
     "A broken TV and then a form that won't work is a rotten combination.",
     "I'll take the claim over the phone now as TV-7142, and a claims adviser will ring you back at 6 tonight.",
     "I'll replace the TV for you, same model, delivered on Wednesday.",
     "I'll let the web team know the form is crashing.",
     "Try another browser, that usually sorts the form."),
    ("My caravan was damaged in storage and the site says it's your problem.",
     "Being bounced between the site and us over your caravan is exasperating.",
     "I've opened the claim as CV-2245 and a claims handler will phone you on Thursday at 11 to arrange the inspection.",
     "We'll pay for the caravan repair and sort it out with the site ourselves.",
     "I'll let the claims team know the site won't help.",
     "The site holds the storage insurance, so claim from them."),
    ("You've asked me for the same documents three times now.",
     "Sending the same papers three times would wear anyone out.",
     "I've logged what you've sent as DC-4470 and your handler will ring you at 10 tomorrow to confirm nothing else is needed.",
     "I'll sign the claim off without them, so you won't need to send anything again.",
     "I'll tell the claims team they already have your documents.",
     "The system asks for them automatically, just send them again."),
    ("My wedding venue went bust and the insurance says it's excluded.",
     "Your wedding venue going under is devastating enough without a refusal on top.",
     "I've logged a review as WD-8126 and a senior claims handler will phone you on Friday at 9.",
     "I'll make an exception and pay the £6,000 deposit back.",
     "I'll pass it to the events claims team to look at again.",
     "Exclusions are exclusions, it's in the small print."),
    ("The contents payout you offered won't replace half of what was stolen.",
     "Being offered half of what the burglars took after a break-in adds insult to it.",
     "I've logged a valuation challenge as BG-5519 and a claims handler will call you at 2 on Wednesday to go through the list.",
     "I'll raise the offer to the full £4,800 you've claimed.",
     "I'll let the claims team know you think it's too low.",
     "The offer is based on our valuers' figures, that's final."),
]

GENERIC = ["Sorry about that.", "Oh dear, sorry.", "Sorry to hear that.", "Apologies for that."]
FRUSTRATION = ["I understand your frustration.", "I appreciate this must be frustrating.",
               "I can see why you'd be frustrated."]
STOCK_AFTER = ["Is there anything else I can help you with today?", "Thank you for your patience.",
               "We value you as a customer."]
POLICY = ["As per our policy,", "In line with our procedures,", "In accordance with company policy,"]
COLD = ["Right.", "OK.", ""]

HOUSE_RULE = ("ownership 2 only for a case logged with a reference and a specialist's callback booked at a stated "
              "time; deciding or promising the outcome yourself is ownership 0")


def rows(lines=LINES) -> list[dict]:
    """Nine labelled replies per customer line (the house rule on ownership, the shipped guide elsewhere)."""
    out: list[dict] = []
    for k, (context, specific, callback, decision, pass_on, handoff) in enumerate(lines):
        generic, frustration = GENERIC[k % len(GENERIC)], FRUSTRATION[k % len(FRUSTRATION)]
        stock, policy, cold = STOCK_AFTER[k % len(STOCK_AFTER)], POLICY[k % len(POLICY)], COLD[k % len(COLD)]
        # (reply, empathy, ownership by the house, script_avoidance); the guide's ownership is in the comment
        replies = [
            (f"{specific} {callback}", 2, 2, 2),                                   # guide 2
            (f"{specific} {decision}", 2, 0, 2),                                   # guide 2
            (f"{generic} {callback}", 1, 2, 2),                                    # guide 2
            (f"{generic} {pass_on} {stock}", 1, 1, 1),                             # guide 1
            (f"{frustration} {decision}", 1, 0, 1),                                # guide 2
            (f"{cold} {decision}".strip(), 0, 0, 2),                               # guide 2
            (f"{policy} {handoff[0].lower()}{handoff[1:]} {stock}", 0, 0, 0),      # guide 0
            (f"{specific} {pass_on}", 2, 1, 2),                                    # guide 1
            (callback, 0, 2, 2),                                                   # guide 2
        ]
        for n, (reply, empathy, ownership, script) in enumerate(replies, 1):
            out.append({"id": f"insurer-{k + 1:02d}-{n}", "setting": "insurance claims", "context": context,
                        "reply": reply, "empathy": empathy, "ownership": ownership, "script_avoidance": script})
    return out


if __name__ == "__main__":
    sys.stdout.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows()))
