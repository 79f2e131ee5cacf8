"""Diverse "fact needles": varied wording, answer types and distractors, with held-out wording families.

The RULER-style needles of `needles.py` always read "The special magic number for X is 1234567." and ask
"What is the special magic number for X?", so a reader trained on them learns one wording. Here a needle is
a *fact* about a *key* (a project, an account, a site, a unit, an agreement) whose *value* is one of
`KINDS` (codes, amounts, dates, people, companies, percentages, counts, places, phone numbers, durations),
written with one of many sentence templates (plain, legal, memo and log registers; key and value in varying
positions) and asked about with one of several question templates per sentence template (direct questions,
paraphrases with little word overlap, imperatives, terse requests without a question mark).

**Families.** Every template and every word list exists twice: ``train`` and ``eval`` share no sentence
template, no question template and no key / name vocabulary, and are built to the same pattern (same kinds,
same number of templates and questions, same mix of registers and question styles, same value formats), so
a score on ``eval`` documents measures generalisation to unseen wording at equal difficulty.

**Sets.** `fact_set` draws ``n_facts`` facts with distinct keys (the mutual distractors of external needle
tests), one question per fact, ``absent`` questions about sibling keys that are not in the document (answer:
none), and optionally ``near_identical`` extra facts whose keys differ from the first fact's key by one
character, digit, word or suffix (multi-key tests with look-alike keys). The distractors have no question
of their own; they sit after the question-bearing facts in the returned list.

**Documents.** `make_fact_document` splices the facts into CUAD contract text (the haystack helpers of
`needles.py`) at requested depths, to about ``target_tokens`` reader tokens (2K .. 1M+). Everything is a
pure function of its arguments (the seed included).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .needles import _count_tokens, _insert, _Needle, _take_haystack, chars_per_token, cuad_haystack

FAMILIES = ("train", "eval")
KINDS = ("code", "amount", "date", "name", "company", "percent", "count", "place", "phone", "duration")
KEY_TYPES = ("project", "account", "site", "unit", "agreement")
_KEY_LETTERS = {"P": "project", "A": "account", "S": "site", "U": "unit", "G": "agreement"}


# ---- public records ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fact:
    """One needle sentence; `key` and `value` occur in `sentence` verbatim, exactly once each."""

    sentence: str  # exactly as inserted; ends with sentence punctuation
    key: str  # the subject, as written in the sentence ("the Harbor Street warehouse")
    value: str  # the answer; sentence[value_span[0]:value_span[1]] == value
    value_span: tuple[int, int]
    kind: str  # one of KINDS
    key_span: tuple[int, int] = (0, 0)
    key_type: str = ""  # one of KEY_TYPES
    template: int = 0  # index into TEMPLATES[family][kind]


@dataclass(frozen=True)
class FactQuestion:
    """A question and the fact that answers it; `fact` None = not in the document (must stay unanswered)."""

    text: str
    fact: int | None  # index into the facts list
    key: str = ""  # the key the question names, verbatim in `text`


@dataclass(frozen=True)
class FactTemplate:
    """A sentence template ({key}, {value}), its question paraphrases ({key}) and the keys it reads well with.

    `forms`: the units of a count ("pallets") or duration ("months") template, so values fit the sentence;
    "address" / "city" for a place template.
    """

    sentence: str
    questions: tuple[str, ...]
    keys: tuple[str, ...]  # key types (KEY_TYPES) the sentence suits
    forms: tuple[str, ...] = ()


@dataclass
class FactDocument:
    text: str
    facts: list[
        Fact
    ]  # question-bearing facts first (one per requested depth), then near-identical distractors
    fact_spans: list[tuple[int, int]]  # char span of each fact sentence in text
    questions: list[FactQuestion]
    # per question: the span of its answer value inside its fact sentence ([] when fact is None); an equal
    # string elsewhere in the haystack (a contract's own "90 days") is not an answer
    answer_spans: list[list[tuple[int, int]]]
    depths: list[float]  # per fact: start / len(text)
    length_tokens: int  # measured with the reader tokenizer (or estimated when measure=False)
    family: str
    seed: int
    split: str = "validation"
    target_tokens: int = 0


def _t(keys: str, sentence: str, *questions: str, forms: tuple[str, ...] = ()) -> FactTemplate:
    return FactTemplate(sentence, tuple(questions), tuple(_KEY_LETTERS[c] for c in keys), forms)


# ---- templates --------------------------------------------------------------------------------------------
# Each template: direct question, low-overlap paraphrase, imperative, terse request (no question mark).
# Key letters: P project, A account, S site, U unit, G agreement.
_TRAIN: dict[str, tuple[FactTemplate, ...]] = {
    "code": (
        _t(
            "PSU",
            "Note: the access code for {key} is {value}.",
            "What is the access code for {key}?",
            "Which combination unlocks {key}?",
            "Give the access code assigned to {key}.",
            "access code for {key}",
        ),
        _t(
            "SU",
            "The vault at {key} opens with {value}.",
            "What opens the vault at {key}?",
            "How does one unlock the safe located at {key}?",
            "Tell me the vault combination for {key}.",
            "vault code at {key}",
        ),
        _t(
            "SU",
            "[SEC-LOG] keypad at {key} reset; new code {value}.",
            "What is the new keypad code at {key}?",
            "After the reset, what must be punched in to enter {key}?",
            "Report the current keypad code for {key}.",
            "keypad code for {key} after the reset",
        ),
        _t(
            "PAG",
            "The Licensee shall quote authorization code {value} in all correspondence concerning {key}.",
            "Which authorization code must be cited in letters about {key}?",
            "What reference should correspondence regarding {key} carry?",
            "State the authorization code for {key}.",
            "authorization code to quote for {key}",
        ),
        _t(
            "PASU",
            "Memo -- tracking reference for {key}: {value}. Use it on every shipment.",
            "What is the tracking reference for {key}?",
            "Which number should be put on consignments for {key}?",
            "Provide the tracking reference used for {key}.",
            "tracking ref for {key}",
        ),
        _t(
            "PASU",
            "{value} is the serial number recorded for {key}.",
            "What serial number was recorded for {key}?",
            "Which identifier is on file as the serial for {key}?",
            "Look up the serial number for {key}.",
            "serial no. for {key}",
        ),
        _t(
            "SU",
            "Per the IT ticket, the Wi-Fi password at {key} was changed to {value}.",
            "What is the Wi-Fi password at {key} now?",
            "What do guests type to get online at {key}?",
            "Tell me the wireless password for {key}.",
            "current Wi-Fi password, {key}",
        ),
    ),
    "amount": (
        _t(
            "PASUG",
            "Under Schedule 4, the deposit for {key} shall be {value}.",
            "What deposit is required for {key}?",
            "How much must be put down up front for {key}?",
            "State the deposit amount for {key}.",
            "deposit owed for {key}",
        ),
        _t(
            "PSG",
            "The annual budget of {key} is {value}.",
            "What is the annual budget of {key}?",
            "How much money is allocated to {key} each year?",
            "Give the yearly budget for {key}.",
            "yearly budget for {key}",
        ),
        _t(
            "PAG",
            "Finance memo: {value} was approved as the settlement for {key}.",
            "How much was approved as the settlement for {key}?",
            "What payout did finance sign off on to resolve {key}?",
            "Tell me the approved settlement for {key}.",
            "settlement figure for {key}",
        ),
        _t(
            "AUG",
            "AR report -- {key}: outstanding balance {value}.",
            "What is the outstanding balance on {key}?",
            "How much is still owed on {key}?",
            "Report the unpaid balance of {key}.",
            "balance outstanding, {key}",
        ),
        _t(
            "PSUG",
            "{value} is the most the insurer will pay per incident for {key}.",
            "What is the per-incident insurance cap for {key}?",
            "What is the limit of cover per occurrence for {key}?",
            "Give the insurance limit per incident for {key}.",
            "coverage cap for {key}",
        ),
        _t(
            "PSU",
            "The Purchaser agrees to pay {value} for {key} upon closing.",
            "How much will the Purchaser pay for {key} at closing?",
            "What is the purchase price of {key}?",
            "State what the buyer pays for {key}.",
            "closing payment for {key}",
        ),
        _t(
            "PASU",
            "Heads up: the late fee on {key} went up to {value}.",
            "What is the late fee on {key} now?",
            "How much is charged when a payment on {key} is overdue?",
            "Tell me the new late fee for {key}.",
            "late fee for {key}",
        ),
    ),
    "date": (
        _t(
            "SU",
            "The lease on {key} expires on {value}.",
            "When does the lease on {key} expire?",
            "What is the last day of the tenancy at {key}?",
            "Tell me the lease expiry date for {key}.",
            "lease end date, {key}",
        ),
        _t(
            "PAG",
            "This Amendment shall take effect with respect to {key} on {value}.",
            "On what date does the Amendment take effect for {key}?",
            "When do the amended terms begin to apply to {key}?",
            "State the effective date of the amendment for {key}.",
            "amendment effective date for {key}",
        ),
        _t(
            "PS",
            "Memo: go-live for {key} has moved to {value}.",
            "When is the go-live date for {key}?",
            "When will {key} launch?",
            "Give the new go-live date of {key}.",
            "go-live, {key}",
        ),
        _t(
            "SU",
            "[AUDIT] last inspection of {key}: {value}.",
            "When was {key} last inspected?",
            "What is the date of the most recent check of {key}?",
            "Report when {key} was last inspected.",
            "last inspection date for {key}",
        ),
        _t(
            "PAG",
            "{value} is the closing date set for {key}.",
            "What is the closing date for {key}?",
            "When is {key} scheduled to close?",
            "Tell me when {key} closes.",
            "closing date of {key}",
        ),
        _t(
            "PASUG",
            "Payment for {key} falls due no later than {value}.",
            "By when must payment for {key} be made?",
            "What is the deadline to settle the bill for {key}?",
            "Give the payment due date for {key}.",
            "due date, {key}",
        ),
        _t(
            "SU",
            "Construction at {key} began on {value}.",
            "When did construction begin at {key}?",
            "On what day did builders break ground at {key}?",
            "Provide the construction start date for {key}.",
            "build start date at {key}",
        ),
    ),
    "name": (
        _t(
            "PAG",
            "Effective immediately, {value} is the escrow agent for {key}.",
            "Who is the escrow agent for {key}?",
            "Who holds the funds in trust for {key}?",
            "Name the escrow agent of {key}.",
            "escrow agent, {key}",
        ),
        _t(
            "PASUG",
            "All notices concerning {key} shall be addressed to {value}.",
            "To whom should notices about {key} be addressed?",
            "Who is the designated recipient of formal correspondence regarding {key}?",
            "Give the person that notices for {key} go to.",
            "notice recipient for {key}",
        ),
        _t(
            "P",
            "Staffing memo: {value} takes over as project lead on {key}.",
            "Who is the new project lead on {key}?",
            "Who is now running {key}?",
            "Tell me who leads {key}.",
            "lead for {key}",
        ),
        _t(
            "PASU",
            "On-call rota: {key} is covered this week by {value}.",
            "Who is on call for {key} this week?",
            "Which person should be paged about {key} this week?",
            "Report who covers {key} on the rota.",
            "on-call person, {key}",
        ),
        _t(
            "PSU",
            "{value} signed the inspection report for {key}.",
            "Who signed the inspection report for {key}?",
            "Whose signature is on the inspection paperwork for {key}?",
            "Name whoever signed off the inspection of {key}.",
            "inspection signatory, {key}",
        ),
        _t(
            "SU",
            "The site manager at {key} is {value}.",
            "Who is the site manager at {key}?",
            "Who runs day-to-day operations at {key}?",
            "Tell me the manager of {key}.",
            "manager at {key}",
        ),
        _t(
            "PAG",
            "Questions about {key} go to {value} in Accounts.",
            "Who in Accounts handles questions about {key}?",
            "Whom should I ask about {key}?",
            "Give the contact in Accounts for {key}.",
            "Accounts contact, {key}",
        ),
    ),
    "company": (
        _t(
            "PSU",
            "The general contractor for {key} is {value}.",
            "Who is the general contractor for {key}?",
            "Which firm is building {key}?",
            "Name the general contractor on {key}.",
            "GC for {key}",
        ),
        _t(
            "PSUG",
            '{value} (the "Vendor") shall supply all materials for {key}.',
            "Which company supplies the materials for {key}?",
            "Who is the Vendor for {key}?",
            "State the materials supplier of {key}.",
            "vendor, {key}",
        ),
        _t(
            "SU",
            "Procurement update: the cleaning contract for {key} went to {value}.",
            "Who won the cleaning contract for {key}?",
            "Which firm keeps {key} clean?",
            "Tell me the cleaning contractor at {key}.",
            "cleaning company for {key}",
        ),
        _t(
            "PASU",
            "Dispatch log -- freight for {key} booked with {value}.",
            "Which carrier is the freight for {key} booked with?",
            "Who is shipping the goods for {key}?",
            "Report the freight carrier for {key}.",
            "carrier for {key}",
        ),
        _t(
            "PASUG",
            "Coverage for {key} is underwritten by {value}.",
            "Who underwrites the coverage for {key}?",
            "Which insurer covers {key}?",
            "Give the underwriter of {key}.",
            "insurer of {key}",
        ),
        _t(
            "SU",
            "Security at {key} is provided by {value}.",
            "Who provides security at {key}?",
            "Which company guards {key}?",
            "Tell me the security firm for {key}.",
            "security provider, {key}",
        ),
        _t(
            "PSA",
            "Software for {key} is licensed from {value}.",
            "From whom is the software for {key} licensed?",
            "Which vendor's programs does {key} run on?",
            "Name the software licensor for {key}.",
            "licensor for {key}",
        ),
    ),
    "percent": (
        _t(
            "SU",
            "The occupancy rate at {key} stood at {value} last quarter.",
            "What was the occupancy rate at {key} last quarter?",
            "How full was {key} last quarter?",
            "Give the last-quarter occupancy at {key}.",
            "occupancy, {key}",
        ),
        _t(
            "AG",
            "Interest on overdue amounts under {key} shall accrue at {value} per annum.",
            "At what rate does interest accrue on overdue amounts under {key}?",
            "What is the annual late-payment interest for {key}?",
            "State the default interest rate under {key}.",
            "overdue interest rate, {key}",
        ),
        _t(
            "PASG",
            "Memo: the discount negotiated for {key} is {value}.",
            "What discount was negotiated for {key}?",
            "How much off the list price does {key} get?",
            "Tell me the negotiated discount for {key}.",
            "discount for {key}",
        ),
        _t(
            "PS",
            "KPI report -- {key} defect rate: {value}.",
            "What is the defect rate of {key}?",
            "What share of output from {key} is faulty?",
            "Report the defect rate for {key}.",
            "defect rate, {key}",
        ),
        _t(
            "PAG",
            "{value} is the royalty rate payable under {key}.",
            "What royalty rate is payable under {key}?",
            "What cut of sales goes to the licensor under {key}?",
            "Give the royalty percentage for {key}.",
            "royalty rate, {key}",
        ),
        _t(
            "PSU",
            "Completion of {key} is estimated at {value}.",
            "How complete is {key}?",
            "What fraction of the work on {key} is done?",
            "Tell me the estimated completion percentage for {key}.",
            "percent complete, {key}",
        ),
        _t(
            "SU",
            "The landlord raised the service charge on {key} by {value}.",
            "By how much did the service charge on {key} rise?",
            "What increase did the landlord apply to the service fee for {key}?",
            "State the service charge increase for {key}.",
            "service charge hike, {key}",
        ),
    ),
    "count": (
        _t(
            "SU",
            "Inventory log: {key} holds {value}.",
            "How much inventory does {key} hold?",
            "What stock is kept at {key}?",
            "Report the inventory count for {key}.",
            "stock on hand, {key}",
            forms=("pallets", "crates", "containers", "cartons"),
        ),
        _t(
            "PS",
            "The headcount for {key} is {value}.",
            "What is the headcount for {key}?",
            "How many people work on {key}?",
            "Give the staff count of {key}.",
            "headcount, {key}",
            forms=("employees", "staff members", "people"),
        ),
        _t(
            "SU",
            "The Supplier shall deliver not fewer than {value} to {key} each month.",
            "What is the minimum monthly delivery to {key}?",
            "How many items must the Supplier send {key} every month at least?",
            "State the monthly minimum shipped to {key}.",
            "minimum monthly delivery, {key}",
            forms=("units", "cases", "cartons", "drums"),
        ),
        _t(
            "SU",
            "Memo: parking at {key} is limited to {value}.",
            "How much parking is available at {key}?",
            "How many cars can park at {key}?",
            "Tell me the parking limit at {key}.",
            "parking capacity, {key}",
            forms=("spaces", "vehicles", "cars"),
        ),
        _t(
            "SU",
            "{value} were shipped from {key} yesterday.",
            "How much was shipped from {key} yesterday?",
            "What volume left {key} yesterday?",
            "Give yesterday's shipment count from {key}.",
            "yesterday's shipments, {key}",
            forms=("cartons", "parcels", "boxes", "pallets"),
        ),
        _t(
            "SU",
            "The server room at {key} houses {value}.",
            "How much equipment is in the server room at {key}?",
            "What is the capacity of the server room at {key}?",
            "Report the equipment count in the server room at {key}.",
            "server room size, {key}",
            forms=("racks", "servers", "cabinets"),
        ),
        _t(
            "SU",
            "Seating at {key} is capped at {value}.",
            "What is the seating cap at {key}?",
            "How many can be seated at {key}?",
            "Tell me the maximum seating for {key}.",
            "seating limit, {key}",
            forms=("seats", "guests", "people"),
        ),
    ),
    "place": (
        _t(
            "PASU",
            "Deliveries for {key} should be sent to {value}.",
            "Where should deliveries for {key} be sent?",
            "What is the shipping destination for {key}?",
            "Give the delivery address for {key}.",
            "delivery address, {key}",
            forms=("address",),
        ),
        _t(
            "PAG",
            "The registered office for {key} shall be located at {value}.",
            "Where is the registered office for {key}?",
            "What is the official address on file for {key}?",
            "State the registered office location of {key}.",
            "registered office, {key}",
            forms=("address",),
        ),
        _t(
            "PS",
            "Memo: the offsite for {key} will be held in {value}.",
            "Where will the offsite for {key} be held?",
            "In which city is the retreat for {key}?",
            "Tell me the offsite location for {key}.",
            "offsite city, {key}",
            forms=("city",),
        ),
        _t(
            "PAU",
            "Asset tracker: backup tapes for {key} stored at {value}.",
            "Where are the backup tapes for {key} stored?",
            "At what address is the archive copy of the data for {key} kept?",
            "Report the backup storage location for {key}.",
            "tape storage, {key}",
            forms=("address",),
        ),
        _t(
            "PAUG",
            "{value} is the billing address for {key}.",
            "What is the billing address for {key}?",
            "Where are the invoices for {key} mailed?",
            "Provide the billing address of {key}.",
            "billing address, {key}",
            forms=("address",),
        ),
        _t(
            "PAG",
            "Arbitration relating to {key} shall take place in {value}.",
            "Where will arbitration about {key} take place?",
            "In which city are disputes over {key} heard?",
            "State the arbitration venue for {key}.",
            "arbitration seat, {key}",
            forms=("city",),
        ),
        _t(
            "SU",
            "The spare keys for {key} are kept at {value}.",
            "Where are the spare keys for {key} kept?",
            "At which address can a duplicate key to {key} be picked up?",
            "Tell me where the spare keys for {key} are.",
            "spare keys location, {key}",
            forms=("address",),
        ),
    ),
    "phone": (
        _t(
            "PASUG",
            "For urgent issues with {key}, call {value}.",
            "What number should be called for urgent issues with {key}?",
            "How do I reach someone quickly about {key}?",
            "Give the urgent phone line for {key}.",
            "urgent line, {key}",
        ),
        _t(
            "SU",
            "The front desk at {key} can be reached on {value}.",
            "What is the front desk number at {key}?",
            "How can I ring reception at {key}?",
            "Tell me the reception phone for {key}.",
            "front desk phone, {key}",
        ),
        _t(
            "PAG",
            "Notices regarding {key} may also be given by telephone to {value}.",
            "To what telephone number may notices regarding {key} be given?",
            "Which line accepts formal notice about {key} by phone?",
            "State the notice telephone number for {key}.",
            "notice phone, {key}",
        ),
        _t(
            "PASU",
            "Contact sheet -- {key} after-hours: {value}.",
            "What is the after-hours number for {key}?",
            "What do I dial outside business hours for {key}?",
            "Report the after-hours contact number for {key}.",
            "after-hours line, {key}",
        ),
        _t(
            "PASU",
            "{value} is the fax number listed for {key}.",
            "What fax number is listed for {key}?",
            "Where can documents for {key} be faxed?",
            "Provide the fax number of {key}.",
            "fax, {key}",
        ),
        _t(
            "PA",
            "Memo: the helpdesk for {key} has a new number, {value}.",
            "What is the new helpdesk number for {key}?",
            "How do users get support for {key} now?",
            "Tell me the helpdesk phone for {key}.",
            "helpdesk number, {key}",
        ),
        _t(
            "PAU",
            "Billing questions on {key}: ring {value} between 9 and 5.",
            "What number handles billing questions on {key}?",
            "Whom do I phone about charges on {key}?",
            "Give the billing phone number for {key}.",
            "billing line, {key}",
        ),
    ),
    "duration": (
        _t(
            "AG",
            "The notice period for terminating {key} is {value}.",
            "What is the notice period for terminating {key}?",
            "How much advance warning is needed to end {key}?",
            "State the termination notice period for {key}.",
            "notice period, {key}",
            forms=("days", "business days", "weeks", "months"),
        ),
        _t(
            "PAG",
            "The Licensee shall retain records relating to {key} for {value} after termination.",
            "How long must records relating to {key} be retained?",
            "For what period are files about {key} kept after the deal ends?",
            "Give the record retention period for {key}.",
            "retention period, {key}",
            forms=("months", "years"),
        ),
        _t(
            "SU",
            "Memo: the refurbishment of {key} is expected to take {value}.",
            "How long will the refurbishment of {key} take?",
            "What is the expected duration of the renovation at {key}?",
            "Tell me how long refurbishing {key} will last.",
            "refurb duration, {key}",
            forms=("weeks", "months", "working days"),
        ),
        _t(
            "PASG",
            "SLA -- {key}: response within {value}.",
            "What is the response time under the SLA for {key}?",
            "How quickly must support respond on {key}?",
            "Report the SLA response window for {key}.",
            "SLA response time, {key}",
            forms=("hours", "business days", "working days"),
        ),
        _t(
            "AG",
            "{value} is the lock-in period for {key}.",
            "What is the lock-in period for {key}?",
            "How long is one committed to {key} before being able to exit?",
            "Provide the lock-in term for {key}.",
            "lock-in, {key}",
            forms=("months", "years"),
        ),
        _t(
            "P",
            "Testing of {key} is scheduled to run for {value}.",
            "How long will testing of {key} run?",
            "What is the length of the trial phase for {key}?",
            "Give the test period for {key}.",
            "testing duration, {key}",
            forms=("weeks", "months", "days"),
        ),
        _t(
            "SU",
            "Tenants at {key} get a rent-free period of {value}.",
            "How long is the rent-free period at {key}?",
            "For how long do tenants at {key} pay nothing?",
            "Tell me the rent holiday at {key}.",
            "rent-free period, {key}",
            forms=("weeks", "months"),
        ),
    ),
}

_EVAL: dict[str, tuple[FactTemplate, ...]] = {
    "code": (
        _t(
            "SU",
            "Reminder: entry to {key} requires the PIN {value}.",
            "Which PIN gets a person into {key}?",
            "What number must be keyed in to enter {key}?",
            "Give me the PIN for {key}.",
            "PIN needed for {key}",
        ),
        _t(
            "SU",
            "The lockbox at {key} is set to {value}.",
            "What is the lockbox at {key} set to?",
            "What combination does the key box at {key} use?",
            "Share the lockbox combination for {key}.",
            "lockbox setting for {key}",
        ),
        _t(
            "SU",
            "Access log, 09:12 -- badge override for {key} issued as {value}.",
            "What badge override was issued for {key}?",
            "Which override credential did security hand out for {key}?",
            "Report the badge override code for {key}",
            "override issued for {key}?",
        ),
        _t(
            "PAG",
            "All invoices relating to {key} shall bear the reference {value}.",
            "Which reference must invoices for {key} bear?",
            "What identifier goes on the bills connected with {key}?",
            "State the invoice reference tied to {key}.",
            "invoice reference for {key}",
        ),
        _t(
            "PASUG",
            "FYI -- the confirmation number for {key} came back as {value}.",
            "What was the confirmation number for {key}?",
            "What number confirms the booking made for {key}?",
            "Please provide the confirmation number for {key}.",
            "confirmation no., {key}",
        ),
        _t(
            "PAG",
            "{value} is the licence key issued to {key}.",
            "What licence key was issued to {key}?",
            "Which activation string belongs to {key}?",
            "Tell me the licence key on record for {key}.",
            "licence key of {key}",
        ),
        _t(
            "PAG",
            "Customs cleared the container for {key} under declaration {value}.",
            "Under which declaration was the container for {key} cleared?",
            "What customs filing number covers the shipment for {key}?",
            "Name the customs declaration for {key}.",
            "declaration number, container for {key}",
        ),
    ),
    "amount": (
        _t(
            "PAG",
            "Pursuant to Section 7.2, the retainer payable in respect of {key} is {value}.",
            "What retainer is payable in respect of {key}?",
            "How much is paid in advance to engage counsel on {key}?",
            "Specify the retainer for {key}.",
            "retainer amount, {key}",
        ),
        _t(
            "SU",
            "Rent for {key} comes to {value} a month.",
            "How much is the monthly rent for {key}?",
            "What does it cost per month to lease {key}?",
            "Give me the rent on {key}.",
            "monthly rent at {key}",
        ),
        _t(
            "PSG",
            "Per the board, the grant awarded to {key} totals {value}.",
            "How large is the grant awarded to {key}?",
            "What sum did the board give {key} in funding?",
            "Provide the total grant for {key}.",
            "grant total for {key}",
        ),
        _t(
            "PASU",
            "Expense claim approved -- {key}, reimbursement of {value}.",
            "What reimbursement was approved for {key}?",
            "How much was paid back on the expense claim for {key}?",
            "Report the reimbursed amount for {key}.",
            "reimbursement for {key}",
        ),
        _t(
            "PAG",
            "A penalty of {value} applies if work under {key} is delivered late.",
            "What penalty applies if work under {key} is late?",
            "How much is forfeited when {key} misses its delivery date?",
            "State the late-delivery penalty for {key}.",
            "late-delivery penalty, {key}",
        ),
        _t(
            "SU",
            "{value} has been earmarked for repairs at {key}.",
            "How much has been set aside for repairs at {key}?",
            "What is the maintenance allowance for {key}?",
            "Tell me the repair earmark for {key}.",
            "repair funds for {key}",
        ),
        _t(
            "PSUG",
            "The valuation of {key} was put at {value} by the appraiser.",
            "What valuation did the appraiser give {key}?",
            "How much is {key} worth according to the appraisal?",
            "Give the appraised value of {key}.",
            "appraisal figure for {key}",
        ),
    ),
    "date": (
        _t(
            "PSU",
            "The warranty covering {key} runs until {value}.",
            "Until when is {key} under warranty?",
            "When does the guarantee on {key} lapse?",
            "Give the warranty end date for {key}.",
            "warranty expiry, {key}",
        ),
        _t(
            "PAG",
            "The Term in respect of {key} shall commence on {value}.",
            "When does the Term for {key} commence?",
            "What is the start date of the contractual period for {key}?",
            "Specify the commencement date for {key}.",
            "commencement date for {key}",
        ),
        _t(
            "PS",
            "Quick update -- the kickoff meeting for {key} is on {value}.",
            "When is the kickoff meeting for {key}?",
            "On what day does work on {key} formally get started with a meeting?",
            "Tell me when the kickoff for {key} happens.",
            "kickoff date, {key}",
        ),
        _t(
            "PSU",
            "Ticket closed: {key} decommissioned as of {value}.",
            "As of what date was {key} decommissioned?",
            "When was {key} taken out of service?",
            "Report the decommission date of {key}.",
            "decommission date for {key}",
        ),
        _t(
            "PAG",
            "{value} marks the renewal deadline for {key}.",
            "What is the renewal deadline for {key}?",
            "By what date must {key} be renewed?",
            "Give me the renewal cutoff for {key}.",
            "renewal deadline, {key}",
        ),
        _t(
            "SU",
            "The certificate of occupancy for {key} was issued on {value}.",
            "When was the certificate of occupancy for {key} issued?",
            "On what date was {key} cleared for people to move in?",
            "State the occupancy certificate date for {key}.",
            "occupancy certificate date, {key}",
        ),
        _t(
            "PASU",
            "Shipment to {key} is scheduled for {value}.",
            "When is the shipment to {key} scheduled?",
            "What day should the delivery reach {key}?",
            "Tell me the scheduled shipping date for {key}.",
            "ship date for {key}",
        ),
    ),
    "name": (
        _t(
            "PAG",
            "Going forward, {value} will serve as trustee for {key}.",
            "Who will serve as trustee for {key}?",
            "Who looks after the assets of {key} as fiduciary?",
            "Name the trustee of {key}.",
            "trustee for {key}",
        ),
        _t(
            "PASUG",
            "The authorised representative of the Supplier for {key} is {value}.",
            "Who is the Supplier's authorised representative for {key}?",
            "Who may act on the Supplier's behalf regarding {key}?",
            "Identify the authorised representative for {key}.",
            "supplier rep for {key}",
        ),
        _t(
            "PA",
            "Handover note: {value} now owns {key}.",
            "Who owns {key} now?",
            "To whom was {key} handed over?",
            "Tell me the current owner of {key}.",
            "owner of {key}",
        ),
        _t(
            "SU",
            "Access granted to {value} for {key} by facilities.",
            "Who was granted access to {key}?",
            "Which person did facilities let into {key}?",
            "Report the name given access to {key}.",
            "person with access to {key}",
        ),
        _t(
            "PASU",
            "{value} is listed as the emergency contact for {key}.",
            "Who is the emergency contact for {key}?",
            "Who should be reached first in a crisis involving {key}?",
            "Give me the emergency contact for {key}.",
            "emergency contact, {key}",
        ),
        _t(
            "PAG",
            "The auditor assigned to {key} is {value}.",
            "Which auditor is assigned to {key}?",
            "Who reviews the books of {key}?",
            "State the auditor for {key}.",
            "auditor on {key}",
        ),
        _t(
            "PSG",
            "Approval for {key} was given by {value} on behalf of the board.",
            "Who approved {key} for the board?",
            "Whose sign-off on behalf of the directors did {key} receive?",
            "Name the approver of {key}.",
            "board approver for {key}",
        ),
    ),
    "company": (
        _t(
            "PSU",
            "Maintenance of {key} has been outsourced to {value}.",
            "Who handles maintenance of {key}?",
            "Which outside firm keeps {key} in working order?",
            "Name the maintenance contractor for {key}.",
            "maintenance firm, {key}",
        ),
        _t(
            "PAG",
            "The Parties acknowledge that {value} is the exclusive distributor for {key}.",
            "Who is the exclusive distributor for {key}?",
            "Which company has sole distribution rights for {key}?",
            "Identify the exclusive distributor of {key}.",
            "distributor for {key}",
        ),
        _t(
            "PSU",
            "Note to file: {value} was selected as architect for {key}.",
            "Which firm was selected as architect for {key}?",
            "Who is designing {key}?",
            "Tell me the architect chosen for {key}.",
            "architect on {key}",
        ),
        _t(
            "SU",
            "PO issued to {value} for catering at {key}.",
            "Who is catering at {key}?",
            "Which company will feed people at {key}?",
            "Report the caterer for {key}.",
            "caterer, {key}",
        ),
        _t(
            "PASU",
            "Payroll for {key} is handled by {value}.",
            "Who runs payroll for {key}?",
            "Which provider pays the staff of {key}?",
            "Give me the payroll provider for {key}.",
            "payroll provider, {key}",
        ),
        _t(
            "ASU",
            "{value} holds the lien on {key}.",
            "Who holds the lien on {key}?",
            "Which creditor has a claim secured against {key}?",
            "State the lienholder for {key}.",
            "lienholder, {key}",
        ),
        _t(
            "SU",
            "Telecom services at {key} are provided under contract by {value}.",
            "Which company provides telecom services at {key}?",
            "Who is the phone and internet provider at {key}?",
            "Name the telecom provider for {key}.",
            "telecom carrier at {key}",
        ),
    ),
    "percent": (
        _t(
            "PSU",
            "Utilisation of {key} averaged {value} over the year.",
            "What was the average utilisation of {key} over the year?",
            "How heavily was {key} used on average this year?",
            "Give me the annual utilisation for {key}.",
            "utilisation, {key}",
        ),
        _t(
            "PAG",
            "The commission payable to the Agent in respect of {key} shall be {value} of gross sales.",
            "What commission is the Agent paid for {key}?",
            "What cut of gross sales does the agent earn on {key}?",
            "Specify the agent's commission on {key}.",
            "commission rate, {key}",
        ),
        _t(
            "SU",
            "FYI, the vacancy rate at {key} has dropped to {value}.",
            "What is the vacancy rate at {key}?",
            "What proportion of {key} is standing empty?",
            "Tell me the current vacancy at {key}.",
            "vacancy rate, {key}",
        ),
        _t(
            "PS",
            "Metrics for {key}: uptime {value} this month.",
            "What was the uptime of {key} this month?",
            "For what share of the month was {key} available?",
            "Report this month's availability figure for {key}.",
            "monthly uptime, {key}",
        ),
        _t(
            "PAG",
            "{value} is the markup applied to goods sold under {key}.",
            "What markup is applied to goods under {key}?",
            "How much is added on top of cost for items sold under {key}?",
            "State the markup for {key}.",
            "markup, {key}",
        ),
        _t(
            "PASUG",
            "The tax rate applicable to {key} is {value}.",
            "What tax rate applies to {key}?",
            "How heavily is {key} taxed?",
            "Give the applicable tax rate for {key}.",
            "tax rate, {key}",
        ),
        _t(
            "PS",
            "Staff turnover at {key} reached {value} in the last review.",
            "What was staff turnover at {key} in the last review?",
            "What share of employees left {key} according to the latest review?",
            "Tell me the turnover rate for {key}.",
            "turnover, {key}",
        ),
    ),
    "count": (
        _t(
            "SU",
            "Stock check -- {key} has {value} on hand.",
            "What quantity does {key} have on hand?",
            "How much stock is sitting at {key}?",
            "Give me the on-hand count for {key}.",
            "on-hand quantity, {key}",
            forms=("pallets", "crates", "bins", "drums"),
        ),
        _t(
            "PS",
            "The workforce at {key} numbers {value}.",
            "How large is the workforce at {key}?",
            "How many people are employed at {key}?",
            "State the workforce size at {key}.",
            "workforce, {key}",
            forms=("workers", "employees", "staff"),
        ),
        _t(
            "PAG",
            "The Licensee may install the software on no more than {value} in connection with {key}.",
            "On how many machines may the software be installed for {key}?",
            "What is the installation limit for {key}?",
            "Specify the maximum installs permitted for {key}.",
            "install cap, {key}",
            forms=("workstations", "devices", "servers"),
        ),
        _t(
            "SU",
            "Logistics note: {key} will receive {value} next week.",
            "What will {key} receive next week?",
            "How big is next week's delivery to {key}?",
            "Tell me next week's incoming quantity for {key}.",
            "incoming next week, {key}",
            forms=("boxes", "crates", "pallets"),
        ),
        _t(
            "PAS",
            "{value} are registered to {key}.",
            "How many are registered to {key}?",
            "What is the registration count for {key}?",
            "Report the number registered to {key}.",
            "registered total, {key}",
            forms=("vehicles", "devices", "users"),
        ),
        _t(
            "SU",
            "The loading dock at {key} can handle {value} per day.",
            "How much can the loading dock at {key} handle daily?",
            "What is the daily throughput of the dock at {key}?",
            "Give the dock capacity per day at {key}.",
            "dock capacity, {key}",
            forms=("trucks", "containers", "trailers"),
        ),
        _t(
            "SU",
            "Visitors to {key} last month totalled {value}.",
            "How many visitors did {key} get last month?",
            "What was last month's footfall at {key}?",
            "State last month's visitor total for {key}.",
            "visitors last month, {key}",
            forms=("visitors", "guests", "people"),
        ),
    ),
    "place": (
        _t(
            "PASU",
            "Returned goods for {key} must go to {value}.",
            "Where must returned goods for {key} go?",
            "To what location are rejected items from {key} shipped back?",
            "Give me the returns address for {key}.",
            "returns destination, {key}",
            forms=("address",),
        ),
        _t(
            "PAG",
            "The courts of {value} shall have exclusive jurisdiction over disputes arising from {key}.",
            "Which courts have jurisdiction over disputes from {key}?",
            "Where would a lawsuit about {key} have to be filed?",
            "Specify the governing jurisdiction for {key}.",
            "jurisdiction, {key}",
            forms=("city",),
        ),
        _t(
            "PS",
            "Reminder: training for {key} happens in {value}.",
            "Where is the training for {key}?",
            "In which city will staff be trained on {key}?",
            "Tell me where training for {key} takes place.",
            "training location, {key}",
            forms=("city",),
        ),
        _t(
            "PS",
            "Relocation complete -- {key} now operates from {value}.",
            "From where does {key} now operate?",
            "What is the new base of operations for {key}?",
            "Report the current address of {key}.",
            "new address, {key}",
            forms=("address",),
        ),
        _t(
            "PAG",
            "{value} is where the original documents for {key} are archived.",
            "Where are the original documents for {key} archived?",
            "In what location are the paper originals of {key} kept?",
            "State the archive location for {key}.",
            "archive location, {key}",
            forms=("address", "city"),
        ),
        _t(
            "PAUG",
            "Payment cheques for {key} should be mailed to {value}.",
            "Where should cheques for {key} be mailed?",
            "To what address do payments for {key} get posted?",
            "Provide the remittance address for {key}.",
            "remittance address, {key}",
            forms=("address",),
        ),
        _t(
            "PAG",
            "The annual meeting for {key} will convene in {value}.",
            "Where will the annual meeting for {key} convene?",
            "Which city hosts the yearly gathering for {key}?",
            "Name the venue city of the annual meeting for {key}.",
            "annual meeting city, {key}",
            forms=("city",),
        ),
    ),
    "phone": (
        _t(
            "SU",
            "In an emergency at {key}, dial {value}.",
            "What should be dialled in an emergency at {key}?",
            "Which line do I use if something goes badly wrong at {key}?",
            "Give me the emergency number for {key}.",
            "emergency number, {key}",
        ),
        _t(
            "PASUG",
            "The switchboard for {key} is {value}.",
            "What is the switchboard number for {key}?",
            "How do callers get through to {key}?",
            "State the main switchboard of {key}.",
            "switchboard, {key}",
        ),
        _t(
            "PG",
            "Any claim under {key} must be reported promptly by telephone to {value}.",
            "To which number must claims under {key} be phoned in?",
            "How does one report a claim under {key} by phone?",
            "Specify the claims reporting line for {key}.",
            "claims hotline, {key}",
        ),
        _t(
            "SU",
            "Directory update: {key} reception now {value}.",
            "What is the reception number for {key} now?",
            "What's the updated phone for the front office of {key}?",
            "Report the current reception line for {key}.",
            "reception number, {key}",
        ),
        _t(
            "PASU",
            "{value} connects you to the service team for {key}.",
            "What number connects to the service team for {key}?",
            "How do I get hold of servicing for {key}?",
            "Tell me the service team's number for {key}.",
            "service team phone, {key}",
        ),
        _t(
            "PA",
            "Please note the hotline for {key} has changed to {value}.",
            "What has the hotline for {key} changed to?",
            "What's the current support hotline for {key}?",
            "Provide the hotline number for {key}.",
            "hotline, {key}",
        ),
        _t(
            "PAU",
            "Text messages about {key} can be sent to {value}.",
            "Where can text messages about {key} be sent?",
            "What mobile number takes SMS about {key}?",
            "Give the SMS number for {key}.",
            "SMS line, {key}",
        ),
    ),
    "duration": (
        _t(
            "AG",
            "Coverage under {key} lasts for {value}.",
            "How long does coverage under {key} last?",
            "For what span of time is {key} in force?",
            "Give me the coverage length for {key}.",
            "coverage length, {key}",
            forms=("months", "years"),
        ),
        _t(
            "PAG",
            "The confidentiality obligations in respect of {key} shall survive for {value}.",
            "For how long do the confidentiality obligations for {key} survive?",
            "How long must information about {key} be kept secret?",
            "Specify the confidentiality survival period for {key}.",
            "confidentiality term, {key}",
            forms=("years", "months"),
        ),
        _t(
            "PSU",
            "Update: the outage at {key} is projected to last {value}.",
            "How long is the outage at {key} projected to last?",
            "For how much longer will {key} be down?",
            "Tell me the expected outage length at {key}.",
            "outage duration, {key}",
            forms=("hours", "days"),
        ),
        _t(
            "PAS",
            "Backup retention -- {key}: {value}.",
            "How long are backups of {key} retained?",
            "For what period does {key} keep its backup copies?",
            "Report the backup retention for {key}.",
            "backup retention, {key}",
            forms=("days", "weeks", "months", "years"),
        ),
        _t(
            "AG",
            "{value} is the grace period allowed on {key}.",
            "What grace period is allowed on {key}?",
            "How much extra time is given before {key} is in default?",
            "State the grace period for {key}.",
            "grace period, {key}",
            forms=("days", "business days", "weeks"),
        ),
        _t(
            "AG",
            "The initial term of {key} runs for {value}.",
            "How long does the initial term of {key} run?",
            "What is the length of the first contract period for {key}?",
            "Provide the initial term of {key}.",
            "initial term, {key}",
            forms=("months", "years"),
        ),
        _t(
            "PSU",
            "Delivery to {key} normally takes {value}.",
            "How long does delivery to {key} normally take?",
            "What's the usual lead time for shipments to {key}?",
            "Tell me the typical delivery time for {key}.",
            "delivery time, {key}",
            forms=("days", "business days", "working days", "weeks"),
        ),
    ),
}

TEMPLATES: dict[str, dict[str, tuple[FactTemplate, ...]]] = {"train": _TRAIN, "eval": _EVAL}
SENTENCE_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    fam: {kind: tuple(t.sentence for t in ts) for kind, ts in by_kind.items()}
    for fam, by_kind in TEMPLATES.items()
}
QUESTION_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    fam: {kind: tuple(q for t in ts for q in t.questions) for kind, ts in by_kind.items()}
    for fam, by_kind in TEMPLATES.items()
}


# ---- vocabularies -----------------------------------------------------------------------------------------
# Keys, people, companies and places are drawn from per-family lists (disjoint between families), so no key
# or name of an evaluation document was ever seen in training. Generic words (street types, months, units)
# are shared.
# fmt: off
VOCABULARY: dict[str, dict[str, tuple[str, ...]]] = {
    "train": {
        "codenames": (
            "Nightingale", "Bluebird", "Kestrel", "Heron", "Osprey", "Albatross", "Cormorant", "Starling",
            "Pelican", "Magpie", "Woodpecker", "Sandpiper", "Kingfisher", "Lapwing", "Curlew", "Plover",
            "Warbler", "Goldfinch", "Swallow", "Condor", "Peregrine", "Buzzard", "Puffin", "Gannet", "Egret",
            "Toucan", "Macaw", "Thunderhead", "Monsoon", "Tempest", "Cyclone", "Hailstone", "Nimbus",
            "Whirlwind", "Sleet", "Squall",
        ),
        "account_heads": ("account", "invoice", "order"),
        "streets": (
            "Harbor", "Maple", "Quarry", "Willow", "Foundry", "Chestnut", "Mill", "Orchard", "Bridge",
            "Granary", "Beacon", "Canal", "Cedar", "Copper", "Elm", "Ferry", "Garrison", "Hazel", "Ivy",
            "Kiln", "Linden", "Market", "Tannery", "Wharf",
        ),
        "facilities": ("warehouse", "depot", "clinic", "plant", "office", "workshop"),
        "unit_heads": ("unit", "bay"),
        "agreement_surnames": (
            "Halvorsen", "Whitcombe", "Ashdown", "Pemberton", "Rourke", "Castellano", "Delacroix", "Brennan",
            "Okonkwo", "Lindqvist", "Moreau", "Tanaka", "Vandermeer", "Kessler", "Albright", "Carrington",
            "Dunleavy", "Esposito", "Harrowgate", "Marchetti",
        ),
        "agreement_nouns": ("supply", "license", "services", "maintenance"),
        "agreement_docs": ("agreement", "addendum"),
        "first_names": (
            "Dana", "Marcus", "Priya", "Tobias", "Elena", "Samuel", "Ingrid", "Rafael", "Naomi", "Victor",
            "Hannah", "Omar", "Clara", "Felix", "Yuki", "Leon", "Beatrice", "Arjun", "Miriam", "Oscar",
        ),
        "last_names": (
            "Whitfield", "Okafor", "Raman", "Lindgren", "Castillo", "Brandt", "Mwangi", "Fairclough",
            "Novak", "Haddad", "Sorensen", "Quinlan", "Abernathy", "Kowalski", "Delgado", "Nakamura",
            "Ferreira", "Ostrowski", "Blackwood", "Iyer",
        ),
        "company_words": (
            "Brightwater", "Northgate", "Ironbridge", "Silverline", "Redwood", "Bluestone", "Clearpath",
            "Harwell", "Kingsbridge", "Meridian", "Pinnacle", "Riverton", "Sterling", "Thornfield",
            "Vantage", "Wexford", "Ambergate", "Crestline", "Fenwick", "Goldcrest",
        ),
        "company_sectors": (
            "Logistics", "Engineering", "Systems", "Construction", "Analytics", "Freight", "Security",
            "Software", "Facilities", "Insurance",
        ),
        "cities": (
            "Tacoma, Washington", "Rotterdam, Netherlands", "Lyon, France", "Porto, Portugal",
            "Calgary, Alberta", "Adelaide, Australia", "Gdansk, Poland", "Leeds, England", "Nagoya, Japan",
            "Valparaiso, Chile", "Graz, Austria", "Halifax, Nova Scotia", "Tampere, Finland",
            "Bilbao, Spain", "Dundee, Scotland", "Memphis, Tennessee", "Brno, Czechia", "Cork, Ireland",
            "Durban, South Africa", "Malmo, Sweden",
        ),
        "value_streets": (
            "Fulton", "Grover", "Hollis", "Kimball", "Lorimer", "Mercer", "Norwood", "Prescott", "Quincy",
            "Ridley", "Sutton", "Tremont",
        ),
    },
    "eval": {
        "codenames": (
            "Sapphire", "Juniper", "Obsidian", "Cassiopeia", "Orion", "Andromeda", "Sequoia", "Cypress",
            "Hawthorn", "Tamarind", "Garnet", "Topaz", "Onyx", "Jasper", "Malachite", "Basalt", "Granite",
            "Citrine", "Peridot", "Amethyst", "Lyra", "Vega", "Polaris", "Sirius", "Altair", "Rigel", "Draco",
            "Perseus", "Mahogany", "Rowan", "Aspen", "Hemlock", "Tourmaline", "Jadeite", "Cobaltite",
            "Sycamore",
        ),
        "account_heads": ("policy", "ledger", "claim"),
        "streets": (
            "Lakeside", "Birchwood", "Saltmarsh", "Riverside", "Pinecrest", "Meadowbank", "Ashford",
            "Brookfield", "Coldwater", "Dunmore", "Fairview", "Glenwood", "Highgate", "Kingsley", "Larkhill",
            "Moorland", "Northcote", "Oakridge", "Parkhurst", "Redcliff", "Stonebridge", "Thornbury",
            "Westbrook", "Yarrow",
        ),
        "facilities": ("terminal", "annex", "laboratory", "yard", "studio", "hangar"),
        "unit_heads": ("suite", "lot"),
        "agreement_surnames": (
            "Achebe", "Bergstrom", "Cavendish", "Draper", "Ellingham", "Fitzroy", "Granville", "Holloway",
            "Iversen", "Jardine", "Kilbride", "Lachance", "Montrose", "Neville", "Oyelaran", "Prendergast",
            "Radcliffe", "Sandoval", "Thackeray", "Underhill",
        ),
        "agreement_nouns": ("distribution", "lease", "consulting", "hosting"),
        "agreement_docs": ("contract", "arrangement"),
        "first_names": (
            "Aisha", "Bernard", "Camille", "Desmond", "Esther", "Gideon", "Helena", "Isaac", "Jun", "Keira",
            "Lucian", "Matilda", "Nikolai", "Olivia", "Pavel", "Rosa", "Stellan", "Thea", "Umar", "Wren",
        ),
        "last_names": (
            "Achterberg", "Bianchi", "Cho", "Drummond", "Eriksen", "Fontaine", "Gallagher", "Hargreaves",
            "Ibarra", "Jovanovic", "Kaur", "Lombardi", "Mbeki", "Nilsson", "O'Hare", "Petrov", "Rahman",
            "Szabo", "Trevino", "Vasquez",
        ),
        "company_words": (
            "Greenhaven", "Farpoint", "Coppergate", "Stillwater", "Highmark", "Lodestar", "Everglow",
            "Trueline", "Westmoor", "Cobalt", "Driftwood", "Eastlake", "Foxglove", "Greystone", "Hollowell",
            "Keystone", "Larchmont", "Morningside", "Oakhurst", "Silvermere",
        ),
        "company_sectors": (
            "Partners", "Solutions", "Ventures", "Industries", "Technologies", "Builders", "Consulting",
            "Telecom", "Catering", "Capital",
        ),
        "cities": (
            "Antwerp, Belgium", "Bergen, Norway", "Cordoba, Argentina", "Dresden, Germany",
            "Eindhoven, Netherlands", "Fresno, California", "Geelong, Australia", "Hamilton, Ontario",
            "Innsbruck, Austria", "Krakow, Poland", "Lille, France", "Montpellier, France",
            "Nantes, France", "Oulu, Finland", "Pittsburgh, Pennsylvania", "Quebec City, Quebec",
            "Reno, Nevada", "Salzburg, Austria", "Tallinn, Estonia", "Utrecht, Netherlands",
        ),
        "value_streets": (
            "Ainsley", "Bancroft", "Carlisle", "Dorset", "Emerson", "Garfield", "Halsey", "Kensington",
            "Lyndhurst", "Montague", "Newbury", "Pelham",
        ),
    },
}
# fmt: on
_STREET_TYPES = ("Street", "Road", "Avenue", "Lane", "Way", "Drive", "Boulevard", "Place")
_DIRECTIONS = ("North", "South", "East", "West", "Old", "Upper")
_PROJECT_HEADS = ("Project", "Operation", "Program")
_PROJECT_SUFFIXES = (" II", " III", " 2", " B")
_AGREEMENT_MODIFIERS = ("amended", "revised", "original", "interim")
_COMPANY_SUFFIXES = ("LLC", "Ltd", "Inc", "GmbH", "plc", "Group", "Holdings")
_UNIT_LETTERS = "ABCDEFGH"
_CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I / O: they read as digits
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_MONTH_ABBR = ("Jan.", "Feb.", "Mar.", "Apr.", "May", "Jun.", "Jul.", "Aug.", "Sep.", "Oct.", "Nov.", "Dec.")
_NUMBER_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)  # fmt: skip


# ---- keys -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Key:
    """A key in parts, so near-identical variants change exactly one part (one word / digit / suffix)."""

    type: str
    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        p = self.parts
        if self.type == "project":  # (head, name, suffix)
            return f"{p[0]} {p[1]}{p[2]}"
        if self.type == "account":  # (head, digits, letter, suffix)
            return f"{p[0]} {p[1]}-{p[2]}{p[3]}"
        if self.type == "unit":  # (head, number, letter)
            return f"{p[0]} {p[1]}{p[2]}"
        # site (direction, street, street type, facility); agreement (modifier, surname, noun, doc)
        return "the " + " ".join(w for w in p if w)

    @property
    def core(self) -> str:
        """The part that tells siblings apart (codename, digits, number, street, surname): two drawn keys
        never share it, so look-alikes appear only when asked for."""
        return self.parts[1].lower()


def _random_key(rng: random.Random, family: str, key_type: str) -> _Key:
    v = VOCABULARY[family]
    if key_type == "project":
        return _Key(key_type, ("Project", rng.choice(v["codenames"]), ""))
    if key_type == "account":
        digits = str(rng.randrange(1000, 10000))
        return _Key(key_type, (rng.choice(v["account_heads"]), digits, rng.choice(_UNIT_LETTERS), ""))
    if key_type == "site":
        parts = ("", rng.choice(v["streets"]), rng.choice(_STREET_TYPES), rng.choice(v["facilities"]))
        return _Key(key_type, parts)
    if key_type == "unit":
        return _Key(
            key_type, (rng.choice(v["unit_heads"]), str(rng.randrange(10, 500)), rng.choice("ABCDEF"))
        )
    if key_type == "agreement":
        parts = ("", rng.choice(v["agreement_surnames"]), rng.choice(v["agreement_nouns"]))
        return _Key(key_type, (*parts, rng.choice(v["agreement_docs"])))
    raise ValueError(f"unknown key type {key_type!r}")


def _typos(word: str) -> list[str]:
    """One-character slips inside a word (first letter kept): deletion, adjacent swap, vowel change."""
    out: list[str] = []
    for i in range(1, len(word) - 1):
        out.append(word[:i] + word[i + 1 :])
        if word[i] != word[i + 1]:
            out.append(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
        if word[i] in "aeiou":
            out += [word[:i] + c + word[i + 1 :] for c in "aeiou" if c != word[i]]
    return [w for w in dict.fromkeys(out) if w != word and len(w) >= 3]


def _digit_variants(digits: str) -> list[str]:
    out = [
        digits[:i] + str((int(d) + s) % 10) + digits[i + 1 :] for i, d in enumerate(digits) for s in (1, 9)
    ]
    out += [digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :] for i in range(len(digits) - 1)]
    return [d for d in dict.fromkeys(out) if d != digits and not d.startswith("0")]


def _near_variant_groups(key: _Key, family: str) -> list[list[_Key]]:
    """Look-alikes of `key`, grouped by what changes (so a draw mixes typos, digits, words and suffixes)."""
    v, p, t = VOCABULARY[family], key.parts, key.type

    def swap(i: int, options: Sequence[str]) -> list[_Key]:
        return [_Key(t, p[:i] + (o,) + p[i + 1 :]) for o in options if o != p[i]]

    if t == "project":
        return [
            swap(1, _typos(p[1])),
            swap(2, _PROJECT_SUFFIXES) if not p[2] else [],
            swap(0, _PROJECT_HEADS),
        ]
    if t == "account":
        return [
            swap(2, _UNIT_LETTERS),
            swap(1, _digit_variants(p[1])),
            swap(3, ("1", "2")) if not p[3] else [],
            swap(0, v["account_heads"]),
        ]
    if t == "unit":
        return [swap(2, _UNIT_LETTERS), swap(1, _digit_variants(p[1])), swap(0, v["unit_heads"])]
    if t == "site":
        return [
            swap(2, _STREET_TYPES),
            swap(1, _typos(p[1])),
            swap(3, v["facilities"]),
            swap(0, _DIRECTIONS) if not p[0] else [],
        ]
    if t == "agreement":
        return [
            swap(1, _typos(p[1])),
            swap(2, v["agreement_nouns"]),
            swap(3, v["agreement_docs"]),
            swap(0, _AGREEMENT_MODIFIERS) if not p[0] else [],
        ]
    raise ValueError(f"unknown key type {t!r}")


def _overlaps(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return a in b or b in a


def _fresh_key(
    rng: random.Random, family: str, key_type: str, taken: Sequence[_Key], avoid: Sequence[str]
) -> _Key:
    """A new key of `key_type`: a new core, and neither inside nor around any taken key or `avoid` text."""
    cores = {k.core for k in taken if k.type == key_type}
    for _ in range(1000):
        k = _random_key(rng, family, key_type)
        if k.core in cores or any(_overlaps(k.text, o.text) for o in taken):
            continue
        if any(_overlaps(k.text, s) for s in avoid):
            continue
        return k
    raise ValueError(f"cannot draw another distinct {key_type} key for family {family!r}")


def _near_keys(rng: random.Random, key: _Key, family: str, k: int, taken: Sequence[_Key]) -> list[_Key]:
    groups = [list(g) for g in _near_variant_groups(key, family)]
    texts = {o.text for o in taken}
    out: list[_Key] = []
    while len(out) < k:
        live = [g for g in groups if g]
        if not live:
            raise ValueError(f"only {len(out)} near-identical variants of {key.text!r}, {k} requested")
        group = rng.choice(live)
        cand = group.pop(rng.randrange(len(group)))
        if cand.text not in texts:
            texts.add(cand.text)
            out.append(cand)
    return out


# ---- values -----------------------------------------------------------------------------------------------
def _letters(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_CODE_LETTERS) for _ in range(n))


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randrange(10 ** (n - 1), 10**n))


def _code(rng: random.Random) -> str:
    alnum = "0123456789" + "ABCDEF"
    form = rng.randrange(7)
    if form == 0:
        return f"{_digits(rng, 5)}-{_letters(rng, 3)}"  # 48213-KQZ
    if form == 1:
        return f"{_letters(rng, 2)}-{_digits(rng, 4)}"  # QX-7731
    if form == 2:  # A9F3-22B1
        a, b = ("".join(rng.choice(alnum) for _ in range(4)) for _ in range(2))
        return f"{rng.choice('ABCDEF')}{a[1:]}-{b}"
    if form == 3:
        return f"{_letters(rng, 3)}{_digits(rng, 3)}"  # KRT482
    if form == 4:
        return f"{_digits(rng, 4)}-{_digits(rng, 4)}-{_digits(rng, 2)}"  # 4821-3390-17
    if form == 5:
        d = [str(rng.randrange(10)) for _ in range(3)]
        ls = _letters(rng, 3)
        return f"{ls[0]}{d[0]}{ls[1]}-{d[1]}{ls[2]}{d[2]}"  # K7Q-2M9
    return _digits(rng, 7)  # 5821340 (the old needle format, still in the mix)


def _millions(rng: random.Random) -> str:
    x = rng.randrange(11, 490) if rng.random() < 0.7 else rng.randrange(101, 4_900) / 10
    s = f"{x / 10:.2f}".rstrip("0").rstrip(".")
    return s


def _amount(rng: random.Random) -> str:
    cur = rng.choice(("EUR", "USD", "GBP", "CHF"))
    n = rng.randrange(10, 1000) * 10 ** rng.randrange(1, 5)
    form = rng.randrange(8)
    if form == 0:
        return f"${n:,}"  # $1,250,000
    if form == 1:
        return f"{cur} {_millions(rng)} million"  # EUR 3.2 million
    if form == 2:
        return f"{n:,} {rng.choice(('dollars', 'euros', 'pounds'))}"  # 4,750 dollars
    if form == 3:
        return f"{cur} {n:,}"  # GBP 640,000
    if form == 4:
        return f"${_millions(rng)} million"  # $3.75 million
    if form == 5:
        return f"${rng.randrange(100, 100_000):,}.{rng.randrange(1, 100):02d}"  # $912.40
    if form == 6:
        return f"{_millions(rng)} million euros"
    return f"{n:,} {cur}"


def _ordinal(d: int) -> str:
    suffix = "th" if 10 <= d % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")
    return f"{d}{suffix}"


def _date(rng: random.Random) -> str:
    y, m, d = rng.randrange(2024, 2033), rng.randrange(1, 13), rng.randrange(1, 29)
    month = _MONTHS[m - 1]
    form = rng.randrange(6)
    if form == 0:
        return f"{month} {d}, {y}"  # March 3, 2027
    if form == 1:
        return f"{y}-{m:02d}-{d:02d}"  # 2027-03-03
    if form == 2:
        return f"{d} {month} {y}"  # 3 March 2027
    if form == 3:
        return f"{m:02d}/{d:02d}/{y}"  # 03/03/2027
    if form == 4:
        return f"{_MONTH_ABBR[m - 1]} {d}, {y}"  # Mar. 3, 2027
    return f"{_ordinal(d)} of {month} {y}"  # 3rd of March 2027


def _person(rng: random.Random, v: dict[str, tuple[str, ...]]) -> str:
    first, last = rng.choice(v["first_names"]), rng.choice(v["last_names"])
    form = rng.randrange(5)
    if form == 3:
        return f"{first} {rng.choice(_CODE_LETTERS)}. {last}"
    if form == 4:
        return f"{rng.choice(('Dr.', 'Ms.', 'Mr.'))} {first} {last}"
    return f"{first} {last}"


def _company(rng: random.Random, v: dict[str, tuple[str, ...]]) -> str:
    w, sector = rng.choice(v["company_words"]), rng.choice(v["company_sectors"])
    form = rng.randrange(4)
    if form == 0:
        return f"{w} {sector} {rng.choice(_COMPANY_SUFFIXES)}"
    if form == 1:
        return f"{w} {sector}"
    if form == 2:
        w2 = rng.choice([x for x in v["company_words"] if x != w])
        return f"{w} & {w2} {rng.choice(('Partners', 'Associates'))}"
    return f"{w} {rng.choice(_COMPANY_SUFFIXES)}"


def _percent(rng: random.Random) -> str:
    i = rng.randrange(1, 60)
    form = rng.randrange(6)
    if form == 0:
        return f"{i}%"
    if form == 1:
        return f"{i}.{rng.randrange(1, 10)}%"
    if form == 2:
        return f"{rng.randrange(0, 10)}.{rng.randrange(1, 100):02d}%"
    if form == 3:
        return f"{i} percent"
    if form == 4:
        return f"{i}.{rng.randrange(1, 10)} percent"
    return f"{i} per cent"


def _count(rng: random.Random, units: Sequence[str], words: bool) -> str:
    r = rng.random()
    n = (
        rng.randrange(2, 21)
        if r < 0.3
        else rng.randrange(21, 1000)
        if r < 0.7
        else rng.randrange(1000, 60_000)
    )
    num = _NUMBER_WORDS[n] if words and n <= 20 and rng.random() < 0.4 else f"{n:,}"
    return f"{num} {rng.choice(units)}"


def _place(rng: random.Random, v: dict[str, tuple[str, ...]], forms: Sequence[str]) -> str:
    if rng.choice(forms) == "city":
        city = rng.choice(v["cities"])
        return city if rng.random() < 0.5 else city.split(",")[0]
    street = f"{rng.randrange(2, 2000)} {rng.choice(v['value_streets'])} {rng.choice(_STREET_TYPES)}"
    form = rng.randrange(4)
    if form == 1:
        return f"Suite {rng.randrange(100, 1000)}, {street}"
    if form == 2:
        return f"{street}, {rng.choice(v['cities']).split(',')[0]}"
    if form == 3:
        return f"Floor {rng.randrange(2, 40)}, {street}"
    return street


def _phone(rng: random.Random) -> str:
    area, line = rng.randrange(201, 990), rng.randrange(100, 10_000)
    form = rng.randrange(8)
    if form == 0:
        return f"+1 ({area}) 555-{line:04d}"
    if form == 1:
        return f"{area}-555-{line:04d}"
    if form == 2:
        return f"({area}) 555-{line:04d}"
    if form == 3:
        return f"+44 20 {rng.randrange(7000, 8000)} {line:04d}"
    if form == 4:
        return f"+49 30 {rng.randrange(1000, 10_000)} {line:04d}"
    if form == 5:
        return f"+61 2 {rng.randrange(8000, 10_000)} {line:04d}"
    if form == 6:
        return f"0800 {rng.randrange(100, 1000)} {rng.randrange(100, 1000)}"
    return f"{area}.555.{line:04d}"


_DURATION_RANGES = {
    "hours": (2, 97), "days": (2, 181), "business days": (2, 91), "working days": (2, 61),
    "weeks": (2, 53), "months": (2, 61), "years": (2, 26),
}  # fmt: skip


def _duration(rng: random.Random, units: Sequence[str], words: bool) -> str:
    unit = rng.choice(units)
    n = rng.randrange(*_DURATION_RANGES[unit])
    num = _NUMBER_WORDS[n] if words and n <= 20 and rng.random() < 0.3 else str(n)
    return f"{num} {unit}"


def _random_value(rng: random.Random, family: str, kind: str, template: FactTemplate) -> str:
    v = VOCABULARY[family]
    words = not template.sentence.startswith("{value}")  # "twelve crates were ..." would need a capital
    if kind == "code":
        return _code(rng)
    if kind == "amount":
        return _amount(rng)
    if kind == "date":
        return _date(rng)
    if kind == "name":
        return _person(rng, v)
    if kind == "company":
        return _company(rng, v)
    if kind == "percent":
        return _percent(rng)
    if kind == "count":
        return _count(rng, template.forms, words)
    if kind == "place":
        return _place(rng, v, template.forms)
    if kind == "phone":
        return _phone(rng)
    if kind == "duration":
        return _duration(rng, template.forms, words)
    raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}")


# ---- sets -------------------------------------------------------------------------------------------------
_SLOT = re.compile(r"\{(key|value)\}")


def fill_template(template: str, key: str, value: str = "") -> tuple[str, tuple[int, int], tuple[int, int]]:
    """`template` with its slots filled; returns the text and the spans of the key and of the value."""
    out: list[str] = []
    spans = {"key": (0, 0), "value": (0, 0)}
    cursor = length = 0
    for m in _SLOT.finditer(template):
        out.append(template[cursor : m.start()])
        length += m.start() - cursor
        fill = key if m.group(1) == "key" else value
        spans[m.group(1)] = (length, length + len(fill))
        out.append(fill)
        length += len(fill)
        cursor = m.end()
    out.append(template[cursor:])
    return "".join(out), spans["key"], spans["value"]


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, not {family!r}")


def _make_fact(
    rng: random.Random, family: str, kind: str, ti: int, key: _Key, values: list[str], keys: Sequence[_Key]
) -> Fact:
    """A fact whose value is new: not equal to, inside or around any other value or any key."""
    template = TEMPLATES[family][kind][ti]
    for _ in range(1000):
        value = _random_value(rng, family, kind, template)
        if any(_overlaps(value, o) for o in values) or any(_overlaps(value, k.text) for k in keys):
            continue
        sentence, key_span, value_span = fill_template(template.sentence, key.text, value)
        if sentence.count(value) != 1 or sentence.count(key.text) != 1:
            continue
        values.append(value)
        return Fact(sentence, key.text, value, value_span, kind, key_span, key.type, ti)
    raise ValueError(f"cannot draw another distinct {kind} value")


def fact_set(
    rng: random.Random,
    family: str,
    n_facts: int = 5,
    near_identical: int = 0,
    absent: int = 1,
    *,
    kinds: Sequence[str] | None = None,
    same_kind: float = 0.3,
    near_all: bool = False,
) -> tuple[list[Fact], list[FactQuestion]]:
    """`n_facts` facts with distinct keys and one question each, `absent` unanswerable questions, and
    `near_identical` look-alike distractors of the first fact -- of every question-bearing fact with
    `near_all` -- appended after the others, with no question of their own.

    Questions come in fact order, then the absent ones. An absent question reuses the question templates of a
    random fact with a fresh key of the same type (another warehouse, another project), so only the key tells
    it apart. `kinds` restricts the answer types; with probability `same_kind` all facts share one kind (the
    harder case: every needle is a plausible answer), otherwise kinds are spread.
    """
    _check_family(family)
    if n_facts < 1 or near_identical < 0 or absent < 0:
        raise ValueError("need n_facts >= 1, near_identical >= 0, absent >= 0")
    # The families are built to the same pattern, so one rng state would draw parallel sets (same kinds and
    # values) for both; a family-specific stream (still a pure function of the caller's rng) keeps them apart.
    rng = random.Random(f"{family}|{rng.getrandbits(64)}")
    pool = tuple(kinds) if kinds else KINDS
    if unknown := [k for k in pool if k not in KINDS]:
        raise ValueError(f"unknown kinds {unknown}; valid kinds: {', '.join(KINDS)}")
    if rng.random() < same_kind:
        chosen = [rng.choice(pool)] * n_facts
    else:
        chosen = []
        while len(chosen) < n_facts:
            chosen += rng.sample(pool, len(pool))
        chosen = chosen[:n_facts]

    plan: list[tuple[str, int, _Key]] = []
    keys: list[_Key] = []
    for kind in chosen:
        ti = rng.randrange(len(TEMPLATES[family][kind]))
        key = _fresh_key(rng, family, rng.choice(TEMPLATES[family][kind][ti].keys), keys, ())
        keys.append(key)
        plan.append((kind, ti, key))
    if near_identical:
        for kind, ti, anchor in plan[: n_facts if near_all else 1]:
            for key in _near_keys(rng, anchor, family, near_identical, keys):
                keys.append(key)
                plan.append((kind, ti, key))

    values: list[str] = []
    facts = [_make_fact(rng, family, kind, ti, key, values, keys) for kind, ti, key in plan]

    questions: list[FactQuestion] = []
    for i, f in enumerate(facts[:n_facts]):
        q = rng.choice(TEMPLATES[family][f.kind][f.template].questions)
        questions.append(FactQuestion(fill_template(q, f.key)[0], i, f.key))
    sentences = [f.sentence for f in facts]
    for _ in range(absent):
        f = facts[rng.randrange(n_facts)]
        key = _fresh_key(rng, family, f.key_type, keys, [*sentences, *values])
        keys.append(key)
        q = rng.choice(TEMPLATES[family][f.kind][f.template].questions)
        questions.append(FactQuestion(fill_template(q, key.text)[0], None, key.text))
    return facts, questions


# ---- documents --------------------------------------------------------------------------------------------
def _splice(hay: str, sentences: Sequence[str], depths: Sequence[float]) -> tuple[str, list[tuple[int, int]]]:
    """Insert each sentence so it starts near depth * len(final text); returns the text and sentence spans.

    `needles._insert` puts its first needle at its depth in the final text and the others at depth * len(hay);
    here every other sentence's depth is pre-compensated for the sentences that end up before it, so all of
    them land near their requested depth.
    """
    sizes = [len(s) + 1 for s in sentences]
    final = len(hay) + sum(sizes)
    order = sorted(range(len(sentences)), key=lambda i: (depths[i], i))
    rank = {i: r for r, i in enumerate(order)}
    adjusted = list(depths)
    before = 0
    for i in order:
        if i != 0:  # needle 0 is _insert's anchor: it compensates that one itself
            adjusted[i] = min(max((depths[i] * final - before) / max(len(hay), 1), 0.0), 1.0)
        before += sizes[i]
    needles = [_Needle(s, [], adjusted[i], rank[i]) for i, s in enumerate(sentences)]
    text, spans, _ = _insert(hay, needles)
    return text, spans


def make_fact_document(
    target_tokens: int,
    depths: Sequence[float],
    seed: int,
    family: str = "eval",
    split: str = "validation",
    data_root: Path | str | None = None,
    haystack: Sequence[str] | None = None,
    near_identical: int = 0,
    absent: int = 1,
    measure: bool = True,
    *,
    kinds: Sequence[str] | None = None,
    same_kind: float = 0.3,
    tolerance: float = 0.03,
    near_all: bool = False,
) -> FactDocument:
    """A document of about `target_tokens` reader tokens (2K .. 1M+) with one question-bearing fact per entry
    of `depths` (fractions of the text) and `near_identical` look-alike distractors at seeded random depths
    (of the first fact, or of every fact with `near_all`: each question then has k near-identical rivals).

    The haystack is CUAD contract text of `split` (cycled for long targets) unless `haystack` is given.
    `measure`: count tokens with the reader tokenizer and rescale until within `tolerance` (three tries, two
    for targets over 200K tokens, where one count takes seconds); otherwise estimate from chars per token.
    """
    _check_family(family)
    if not depths:
        raise ValueError("depths must name at least one fact position")
    if any(not 0.0 <= d <= 1.0 for d in depths):
        raise ValueError("every depth must be within [0, 1]")
    if target_tokens < 16:
        raise ValueError("target_tokens must be >= 16")
    docs = tuple(haystack) if haystack is not None else cuad_haystack(split, data_root)
    if not docs:
        raise ValueError("empty haystack")
    rng = random.Random(f"facts|{family}|{split}|{seed}")
    first = rng.randrange(len(docs))
    facts, questions = fact_set(
        rng, family, len(depths), near_identical, absent, kinds=kinds, same_kind=same_kind, near_all=near_all
    )
    fact_depths = [*depths, *(rng.random() for _ in facts[len(depths) :])]
    sentences = [f.sentence for f in facts]
    cpt = chars_per_token(docs)
    budget = max(int(target_tokens * cpt) - sum(len(s) + 1 for s in sentences), 64)
    text, spans, n_tokens = "", [], 0
    for _attempt in range(2 if target_tokens > 200_000 else 3):
        hay = _take_haystack(docs, first, budget)
        text, spans = _splice(hay, sentences, fact_depths)
        n_tokens = _count_tokens(text) if measure else round(len(text) / cpt)
        if not measure or abs(n_tokens - target_tokens) <= tolerance * target_tokens:
            break
        budget = max(int(budget * target_tokens / max(n_tokens, 1)), 64)
    answer_spans = [
        []
        if q.fact is None
        else [
            (spans[q.fact][0] + facts[q.fact].value_span[0], spans[q.fact][0] + facts[q.fact].value_span[1])
        ]
        for q in questions
    ]
    return FactDocument(
        text=text,
        facts=facts,
        fact_spans=spans,
        questions=questions,
        answer_spans=answer_spans,
        depths=[s / max(len(text), 1) for s, _ in spans],
        length_tokens=n_tokens,
        family=family,
        seed=seed,
        split=split,
        target_tokens=target_tokens,
    )


__all__ = [
    "FAMILIES",
    "KINDS",
    "KEY_TYPES",
    "TEMPLATES",
    "SENTENCE_TEMPLATES",
    "QUESTION_TEMPLATES",
    "VOCABULARY",
    "Fact",
    "FactQuestion",
    "FactTemplate",
    "FactDocument",
    "fact_set",
    "make_fact_document",
    "fill_template",
]
