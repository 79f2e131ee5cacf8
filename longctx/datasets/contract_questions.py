"""Hand-written free questions an analyst might type about each CUAD contract field, in two disjoint families.

The schema (`load_schema("contract")`) has one canonical question per field; analysts never type it. A reader
trained only on that wording fails on "governing law?" or "If we sue, whose courts and law apply?". So every
field gets paraphrases in varied registers (plain, lawyerly, terse keyword, indirect, yes/no-ish) and lexical
overlap, split into a ``train`` family and an ``eval`` family with no question in common: evaluation on the
``eval`` wording measures generalisation to phrasings the reader never saw in training.
"""

from __future__ import annotations

from functools import cache

from longctx.analysis.schemas import schema_fields

FAMILIES = ("train", "eval")

# fields whose pools hold at least 6 questions per family (the fields analysts ask about most)
CORE_FIELDS = (
    "Governing Law",
    "Parties",
    "Expiration Date",
    "Renewal Term",
    "Effective Date",
    "Agreement Date",
    "Notice Period to Terminate Renewal",
    "Termination for Convenience",
    "Cap on Liability",
    "Non-Compete",
    "Exclusivity",
    "Anti-Assignment",
    "Change of Control",
    "Audit Rights",
    "Insurance",
    "Minimum Commitment",
)

# field key (exactly as the schema spells it) -> family -> questions
_QUESTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "Document Name": {
        "train": (
            "What is this agreement called?",
            "What's the title of this contract?",
            "name of the agreement?",
            "How does the document refer to itself, what kind of agreement is it?",
            "Which agreement is this?",
        ),
        "eval": (
            "What is the contract's title?",
            "agreement name?",
            "What type of agreement is this document titled as?",
            "How is this contract headed on its first page?",
            "What formal name is given to this document?",
        ),
    },
    "Parties": {
        "train": (
            "Who are the parties to this agreement?",
            "Which companies signed this contract?",
            "Who is this contract between?",
            "parties?",
            "Name the contracting parties.",
            "Which entities are bound by this agreement?",
            "Who are the counterparties here?",
            "Identify the legal entities entering into this agreement.",
        ),
        "eval": (
            "Between whom is this agreement made?",
            "Which parties entered into the contract?",
            "Who signed this?",
            "contracting entities?",
            "Who are the two sides of this deal?",
            "List the parties named in the agreement.",
            "Which businesses or individuals does this contract bind?",
            "Who is the agreement with?",
        ),
    },
    "Agreement Date": {
        "train": (
            "When was this agreement signed?",
            "What is the date of this contract?",
            "agreement date?",
            "On which date was the contract executed?",
            "When was the deal entered into?",
            "What date appears as the date of the agreement?",
            "As of what date is this agreement made?",
        ),
        "eval": (
            "What date was the contract made?",
            "When did the parties sign the agreement?",
            "signing date?",
            "What is the execution date of this agreement?",
            "When was this document dated?",
            "On what day was the contract entered into?",
            "Which date is given for the making of this agreement?",
        ),
    },
    "Effective Date": {
        "train": (
            "When does this agreement take effect?",
            "What is the effective date?",
            "From what date is the contract in force?",
            "effective date?",
            "When do the obligations under this agreement start?",
            "As of when does this contract become binding?",
            "What is the commencement date of the agreement?",
        ),
        "eval": (
            "When does the contract come into effect?",
            "start date of the agreement?",
            "From which date does this agreement apply?",
            "When does the deal kick in?",
            "What date does the contract become operative?",
            "On which date do the terms start to bind the parties?",
            "When does the agreement begin?",
        ),
    },
    "Expiration Date": {
        "train": (
            "When does this agreement expire?",
            "How long does the contract last?",
            "What is the initial term of the agreement?",
            "term length?",
            "When does the initial term end?",
            "For how long is the agreement in force?",
            "What is the duration of this contract?",
            "Until when does the agreement run?",
        ),
        "eval": (
            "When does the contract end?",
            "What is the length of the contract term?",
            "expiry date?",
            "How long will this agreement stay in effect?",
            "On what date does the agreement terminate by its own terms?",
            "What is the contract period?",
            "How many years does the deal run for?",
            "When is the end of the initial term?",
        ),
    },
    "Renewal Term": {
        "train": (
            "Does the agreement renew automatically?",
            "Is there an auto-renewal clause?",
            "What happens when the initial term ends, does it roll over?",
            "renewal term?",
            "For how long does the contract renew?",
            "Can the term be extended, and by how much?",
            "Does this contract have evergreen renewal?",
        ),
        "eval": (
            "Will the contract renew on its own?",
            "How long are the renewal periods?",
            "auto-renew?",
            "Does the deal roll over at the end of the term?",
            "Is the agreement extended automatically after it expires?",
            "What are the renewal terms?",
            "Does the term continue after the first period ends?",
        ),
    },
    "Notice Period to Terminate Renewal": {
        "train": (
            "How much notice is needed to prevent renewal?",
            "What is the non-renewal notice period?",
            "notice to stop auto-renewal?",
            "By when must we tell the other side we don't want to renew?",
            "How many days before expiry must notice of non-renewal be given?",
            "What notice is required to opt out of the renewal?",
        ),
        "eval": (
            "How far in advance must a party give notice of non-renewal?",
            "non-renewal notice?",
            "What is the deadline to cancel the automatic renewal?",
            "How early do we need to object to the contract rolling over?",
            "What notice period applies to terminating at the end of a renewal term?",
            "How many days' notice avoids the contract renewing?",
        ),
    },
    "Governing Law": {
        "train": (
            "Which state's law applies?",
            "What is the governing law of this agreement?",
            "governing law?",
            "Which jurisdiction's laws govern the contract?",
            "Under what law is this agreement to be interpreted?",
            "What is the choice-of-law provision?",
            "Which law controls if there's a dispute about this contract?",
            "Whose law governs the deal?",
        ),
        "eval": (
            "Which state's law governs this agreement?",
            "What law applies to this contract?",
            "applicable law?",
            "If we sue, whose courts and law apply?",
            "Which legal system governs interpretation of the agreement?",
            "What jurisdiction's law will a court apply to this contract?",
            "Is there a choice of law clause, and which law does it pick?",
            "Under which country's or state's laws is this deal construed?",
        ),
    },
    "Most Favored Nation": {
        "train": (
            "Is there a most-favored-nation clause?",
            "Do we get pricing at least as good as other customers?",
            "MFN?",
            "Must the supplier match better terms it gives to others?",
            "Is a party guaranteed the best price offered to anyone else?",
        ),
        "eval": (
            "Does the contract include an MFN provision?",
            "most favoured customer terms?",
            "If the vendor offers someone a lower price, do we get it too?",
            "Is there a price parity commitment toward other buyers?",
            "Are we entitled to terms no worse than any other customer receives?",
        ),
    },
    "Non-Compete": {
        "train": (
            "Is there a non-compete?",
            "Can the other party compete with us?",
            "non-compete clause?",
            "Does the agreement restrict either party from competing?",
            "Is a party barred from offering competing products?",
            "What restrictive covenants on competition apply?",
            "Are there limits on working with our competitors?",
        ),
        "eval": (
            "Does the contract contain a covenant not to compete?",
            "noncompete?",
            "Is either side prohibited from entering a competing business?",
            "Can the supplier sell rival products while the deal is running?",
            "What competition restrictions bind the parties?",
            "Is there any restriction on competing in a territory or market?",
            "Are we restricted from doing business that competes with the counterparty?",
        ),
    },
    "Exclusivity": {
        "train": (
            "Is this an exclusive arrangement?",
            "exclusivity?",
            "Does either party have exclusive rights?",
            "Must we buy only from this supplier?",
            "Is the distributor exclusive in its territory?",
            "Is there an exclusive dealing obligation?",
            "Can the company appoint other distributors or suppliers?",
        ),
        "eval": (
            "Is the relationship exclusive?",
            "exclusive rights?",
            "Are we obliged to source everything from the counterparty?",
            "Does the agreement grant exclusivity over a region or product?",
            "Can the vendor work with other customers in the same territory?",
            "Is there a sole-supplier commitment?",
            "Does the contract lock us into dealing only with them?",
        ),
    },
    "No-Solicit of Customers": {
        "train": (
            "Can the other side poach our customers?",
            "Is there a customer non-solicitation clause?",
            "non-solicit of clients?",
            "Are the parties barred from approaching each other's customers?",
        ),
        "eval": (
            "Is soliciting the counterparty's clients prohibited?",
            "customer non-solicit?",
            "Can either party go after the other's customer base?",
            "Are there restrictions on contacting the other party's customers?",
        ),
    },
    "Competitive Restriction Exception": {
        "train": (
            "Are there carve-outs to the non-compete?",
            "What exceptions apply to the exclusivity obligations?",
            "exceptions to restrictive covenants?",
            "When is a party allowed to compete despite the restrictions?",
        ),
        "eval": (
            "What is excluded from the non-compete or exclusivity?",
            "carve-outs from the restrictions?",
            "Are any activities exempt from the no-solicit or non-compete?",
            "Under what circumstances do the competition restrictions not apply?",
        ),
    },
    "No-Solicit of Employees": {
        "train": (
            "Can they hire our staff?",
            "Is there an employee non-solicitation clause?",
            "no-poach?",
            "Are the parties prohibited from recruiting each other's employees?",
            "Can the supplier solicit our personnel?",
        ),
        "eval": (
            "Is poaching of employees restricted?",
            "employee non-solicit?",
            "May either party offer jobs to the other's staff?",
            "Is there a restriction on hiring the counterparty's people?",
            "Are we allowed to recruit the vendor's employees?",
        ),
    },
    "Non-Disparagement": {
        "train": (
            "Is there a non-disparagement clause?",
            "Can either party criticise the other publicly?",
            "non-disparagement?",
            "Are the parties prohibited from making negative statements about each other?",
            "Must we refrain from badmouthing the counterparty?",
        ),
        "eval": (
            "Does the contract bar disparaging remarks?",
            "disparagement restrictions?",
            "Can we say negative things about the supplier in public?",
            "Is there a duty not to damage the other party's reputation through statements?",
            "Are derogatory comments about the other side prohibited?",
        ),
    },
    "Termination for Convenience": {
        "train": (
            "Can either side end the deal without cause?",
            "Is there a termination for convenience right?",
            "termination for convenience?",
            "Can we walk away from the contract at any time?",
            "Can the customer terminate without giving a reason?",
            "What notice is needed to terminate without cause?",
            "Is early termination at will allowed?",
        ),
        "eval": (
            "Can a party cancel the agreement for no reason?",
            "convenience termination?",
            "May the contract be ended early without any breach?",
            "How can we get out of this agreement if nothing has gone wrong?",
            "Is there a right to terminate on notice alone?",
            "Can the supplier terminate whenever it wants?",
            "What are the exit rights without cause?",
        ),
    },
    "Rofr/Rofo/Rofn": {
        "train": (
            "Is there a right of first refusal?",
            "ROFR?",
            "Does a party get first dibs before the other sells to a third party?",
            "Is there a right of first offer or negotiation?",
        ),
        "eval": (
            "Does anyone have a first refusal right?",
            "right of first negotiation?",
            "Must the other party offer us the opportunity before offering it to others?",
            "Is there a preemptive right to match third-party offers?",
        ),
    },
    "Change of Control": {
        "train": (
            "What happens if the other party is acquired?",
            "Is there a change of control clause?",
            "change of control?",
            "Can we terminate if the counterparty merges with someone?",
            "Does a merger require the other party's consent?",
            "What rights arise on a sale of the business?",
            "Is notice needed if ownership of a party changes?",
        ),
        "eval": (
            "What if the supplier gets bought?",
            "change in control provisions?",
            "Does an acquisition of either party trigger any rights?",
            "Is consent required when a party undergoes a merger?",
            "Can the contract be ended if someone else takes over the other side?",
            "What are the consequences of a takeover of a party?",
            "Is there a termination right tied to a change in ownership?",
        ),
    },
    "Anti-Assignment": {
        "train": (
            "Can the contract be assigned?",
            "Is consent needed to assign this agreement?",
            "assignment?",
            "Can either party transfer the agreement to a third party?",
            "Are there restrictions on assigning rights or obligations?",
            "May the supplier hand this contract over to someone else?",
            "Does assignment require the other party's approval?",
        ),
        "eval": (
            "Can we transfer this contract without asking?",
            "assignability?",
            "Is the agreement assignable?",
            "What are the rules on transferring the contract to another company?",
            "Can a party delegate its obligations without permission?",
            "Is prior written consent required to assign?",
            "Who must agree before the contract moves to a new owner?",
        ),
    },
    "Revenue/Profit Sharing": {
        "train": (
            "Is there revenue sharing?",
            "Do we share profits with the counterparty?",
            "revenue share?",
            "What percentage of revenue goes to the other party?",
        ),
        "eval": (
            "Does either party receive a cut of the other's sales?",
            "profit split?",
            "Is there a royalty or revenue-share arrangement?",
            "Must a party pay over part of its revenue?",
        ),
    },
    "Price Restrictions": {
        "train": (
            "Can prices be increased?",
            "Are there limits on price changes?",
            "price cap?",
            "Is the supplier restricted from raising prices?",
        ),
        "eval": (
            "Are price increases capped?",
            "price restrictions?",
            "Can the vendor change its rates during the contract?",
            "Is there a limit on how much fees can go up?",
        ),
    },
    "Minimum Commitment": {
        "train": (
            "Is there a minimum purchase commitment?",
            "Do we have to buy a minimum amount?",
            "minimum commitment?",
            "What is the minimum order volume?",
            "Is there a minimum annual spend?",
            "Must the customer order a certain quantity each period?",
            "Are there take-or-pay obligations?",
        ),
        "eval": (
            "Is a minimum spend required?",
            "minimum volume?",
            "What is the least we must purchase under the contract?",
            "Is there a floor on orders or payments?",
            "Do we owe a minimum fee even if we order less?",
            "What quantity must be bought at a minimum each year?",
            "Are there minimum purchase obligations?",
        ),
    },
    "Volume Restriction": {
        "train": (
            "Are there fees for exceeding usage limits?",
            "volume restriction?",
            "What happens if usage goes over the cap?",
            "Is consent needed to exceed a volume threshold?",
        ),
        "eval": (
            "Are there overage charges?",
            "usage limits?",
            "Do we pay extra above a certain volume?",
            "Is there a threshold beyond which usage requires approval?",
        ),
    },
    "IP Ownership Assignment": {
        "train": (
            "Who owns the intellectual property created under this agreement?",
            "Does the customer own the work product?",
            "IP ownership?",
            "Who holds title to the deliverables?",
            "Does IP developed by the contractor transfer to the client?",
        ),
        "eval": (
            "Who will own what gets developed?",
            "ownership of deliverables?",
            "Do the rights in newly created work vest in the customer?",
            "Which party owns the results of the services?",
            "Does the vendor keep the IP in what it builds?",
        ),
    },
    "Joint IP Ownership": {
        "train": (
            "Is any IP jointly owned?",
            "joint ownership of IP?",
            "Do the parties co-own inventions?",
            "Is there shared ownership of developments?",
        ),
        "eval": (
            "Are inventions owned by both parties together?",
            "co-ownership?",
            "Does the agreement provide for joint intellectual property?",
            "Will jointly developed technology belong to both sides?",
        ),
    },
    "License Grant": {
        "train": (
            "Does the agreement grant a license?",
            "What license is granted?",
            "license grant?",
            "What rights does the licensee get to use the software?",
            "Is one party allowed to use the other's IP under a license?",
        ),
        "eval": (
            "Is there a licence from one party to the other?",
            "licensing terms?",
            "What usage rights are granted?",
            "Does the customer receive a license to the product?",
            "Under what license can we use the technology?",
        ),
    },
    "Non-Transferable License": {
        "train": (
            "Is the license transferable?",
            "Can the license be sublicensed?",
            "non-transferable license?",
            "Can the licensee pass the license to someone else?",
        ),
        "eval": (
            "Can we sublicense the rights we get?",
            "license transferability?",
            "Is the licence personal to the licensee?",
            "Are there limits on transferring the granted license?",
        ),
    },
    "Affiliate License-Licensor": {
        "train": (
            "Does the license cover IP owned by the licensor's affiliates?",
            "Do the licensor's affiliates grant any rights?",
            "licensor affiliate IP?",
            "Is affiliate technology of the licensor included in the license?",
        ),
        "eval": (
            "Are the licensor's group companies also granting a license?",
            "affiliate licensor rights?",
            "Does the grant include intellectual property held by the licensor's affiliates?",
            "Is IP of the licensor's subsidiaries licensed too?",
        ),
    },
    "Affiliate License-Licensee": {
        "train": (
            "Can the licensee's affiliates use the license?",
            "Does the license extend to affiliates of the licensee?",
            "affiliate use rights?",
            "Are the customer's subsidiaries covered by the license?",
        ),
        "eval": (
            "May our group companies use the licensed product?",
            "licensee affiliates?",
            "Do affiliates of the licensee get the same rights?",
            "Is use by the licensee's subsidiaries permitted?",
        ),
    },
    "Unlimited/All-You-Can-Eat-License": {
        "train": (
            "Is the license unlimited?",
            "enterprise-wide license?",
            "Is usage under the license capped or unlimited?",
            "Do we get an all-you-can-eat license?",
        ),
        "eval": (
            "Is there an unlimited use license?",
            "all-you-can-eat?",
            "Can the product be deployed without any limit on users?",
            "Is the grant enterprise-wide?",
        ),
    },
    "Irrevocable or Perpetual License": {
        "train": (
            "Is the license perpetual?",
            "Can the license be revoked?",
            "perpetual license?",
            "Does the license last forever?",
        ),
        "eval": (
            "Is any licence irrevocable?",
            "irrevocable rights?",
            "Does the license survive indefinitely?",
            "Can the licensor take the license back?",
        ),
    },
    "Source Code Escrow": {
        "train": (
            "Is there a source code escrow?",
            "Will the source code be deposited with an escrow agent?",
            "escrow?",
            "Can we get the source code if the vendor goes bankrupt?",
            "Is there an escrow arrangement for the software?",
        ),
        "eval": (
            "Does the vendor have to put its code in escrow?",
            "source code escrow arrangement?",
            "What happens to the source code if the supplier fails?",
            "Is there a release condition for deposited code?",
            "Are there escrow obligations for the software's code?",
        ),
    },
    "Post-Termination Services": {
        "train": (
            "What obligations survive termination?",
            "Is there transition assistance after the contract ends?",
            "post-termination obligations?",
            "What must a party do after the agreement ends?",
        ),
        "eval": (
            "What continues after the contract expires?",
            "wind-down duties?",
            "Are there exit or transition services after termination?",
            "What happens to data and obligations when the deal ends?",
        ),
    },
    "Audit Rights": {
        "train": (
            "Can we audit the supplier?",
            "Does the customer have audit rights?",
            "audit rights?",
            "Can a party inspect the other's books and records?",
            "How often may audits be conducted?",
            "Is there a right to examine the vendor's records?",
            "What inspection rights does the agreement give?",
        ),
        "eval": (
            "Are we allowed to check the vendor's books?",
            "audit?",
            "Does either side get to review the other's records for compliance?",
            "Is there an on-site inspection right?",
            "How much notice is needed before an audit?",
            "May the customer verify the supplier's charges through an audit?",
            "Who can audit whom under this contract?",
        ),
    },
    "Uncapped Liability": {
        "train": (
            "Is any liability unlimited?",
            "uncapped liability?",
            "Which claims are excluded from the liability cap?",
            "Is there unlimited liability for confidentiality breaches?",
        ),
        "eval": (
            "Are any damages not subject to a cap?",
            "unlimited liability?",
            "What liabilities fall outside the limitation?",
            "Is a party exposed without limit for certain breaches?",
        ),
    },
    "Cap on Liability": {
        "train": (
            "Is there a cap on liability?",
            "What is the maximum liability?",
            "liability cap?",
            "How much can either party be liable for at most?",
            "Is damages exposure limited under the contract?",
            "What limitation of liability applies?",
            "What is the most we could owe in damages?",
        ),
        "eval": (
            "Is liability limited?",
            "limitation of liability?",
            "What is the ceiling on damages?",
            "Up to what amount is the supplier liable?",
            "Is there a maximum amount recoverable for breach?",
            "How is each party's total exposure capped?",
            "Are damages limited to the fees paid?",
        ),
    },
    "Liquidated Damages": {
        "train": (
            "Are there liquidated damages?",
            "Is there a termination fee?",
            "liquidated damages?",
            "Is a fixed sum payable on breach?",
            "Is there a break fee for ending early?",
        ),
        "eval": (
            "Does the agreement set pre-agreed damages?",
            "early termination charge?",
            "Is a predetermined amount owed if a party breaches?",
            "Are there contractual penalties for delay?",
            "Does a party owe a fee for terminating before the end?",
        ),
    },
    "Warranty Duration": {
        "train": (
            "How long is the warranty?",
            "What is the warranty period?",
            "warranty duration?",
            "For how long are the products warranted?",
            "When does the warranty expire?",
        ),
        "eval": (
            "How long does the warranty last?",
            "warranty term?",
            "For what period are defects covered?",
            "How long is the workmanship guarantee?",
            "Until when can we claim under the warranty?",
        ),
    },
    "Insurance": {
        "train": (
            "What insurance must the supplier carry?",
            "Is insurance required?",
            "insurance?",
            "What coverage limits apply?",
            "Does a party need to maintain liability insurance?",
            "What types of insurance are required under the contract?",
            "Must we be named as additional insured?",
        ),
        "eval": (
            "Does the vendor need insurance?",
            "insurance requirements?",
            "How much coverage does the contractor have to keep?",
            "Which insurance policies must be maintained?",
            "Is there an obligation to hold professional indemnity cover?",
            "What are the minimum insurance amounts?",
            "Do we need to show proof of insurance?",
        ),
    },
    "Covenant Not to Sue": {
        "train": (
            "Is there a covenant not to sue?",
            "Can a party challenge the other's IP?",
            "covenant not to sue?",
            "Is a party barred from contesting patent validity?",
        ),
        "eval": (
            "Is either side restricted from bringing claims against the other?",
            "no-challenge clause?",
            "Can we dispute the validity of the licensor's patents?",
            "Has a party promised not to sue the other?",
        ),
    },
    "Third Party Beneficiary": {
        "train": (
            "Are there third-party beneficiaries?",
            "Can someone outside the contract enforce it?",
            "third party beneficiary?",
            "Does anyone other than the parties have rights under this agreement?",
            "Can affiliates who are not parties enforce the terms?",
        ),
        "eval": (
            "Can a non-party enforce any provision?",
            "third-party rights?",
            "Is anyone besides the signatories entitled to rely on this contract?",
            "Does the agreement exclude third-party beneficiaries?",
            "Who else can sue under this agreement?",
        ),
    },
}


@cache
def _schema_keys() -> tuple[str, ...]:
    keys = tuple(f["key"] for f in schema_fields("contract"))
    missing = [k for k in keys if k not in _QUESTIONS]
    if missing:
        raise RuntimeError(f"no paraphrased questions for schema fields: {missing}")
    return keys


def all_fields() -> list[str]:
    """The contract schema's field keys, in schema order (every one has questions in both families)."""
    return list(_schema_keys())


def field_questions(key: str, family: str) -> list[str]:
    """The paraphrased questions of one field in one family (a new list; callers may shuffle it)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, not {family!r}")
    if key not in _QUESTIONS:
        raise KeyError(f"unknown contract field {key!r}; valid fields: {', '.join(_QUESTIONS)}")
    return list(_QUESTIONS[key][family])
