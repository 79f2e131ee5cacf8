"""Short generated contracts (1-30 pages) with hand-written clause wording, to train and evaluate the reader.

Why: the reader failed short, clear documents ("governed by the laws of the State of Delaware" + filler ->
no answer) and answered confidently about clauses that were not there. These contracts give it both cases
with real wording variety: a governing-law clause and a term clause that are each present with probability
0.8 (many wordings, US states, provinces, countries), a preamble naming the parties (sentence, "BETWEEN:"
block, table), askable clause topics (non-compete, liability cap, insurance, audit rights, ...) of which only
some are present, and numbered boilerplate sections from templates. Each contract asks governing law, term
and parties, 1-3 present topics (so a topic's question alone never implies "absent"), and 2-3 topics whose
clause is ABSENT (gold = [], and no keyword of the topic occurs anywhere in the text), so "no answer" must
be read off the document, not guessed from the question.

Every wording table exists twice, for the ``train`` and ``eval`` families, with no template in common (and the
questions come from the matching family of `contract_questions`): evaluation on ``eval`` contracts measures
generalisation to clause wording, preambles, headings and questions the reader never saw in training.
Entities (company and person names, places, products) are shared data, not wording. Every contract is a pure
function of (seed, family, pages).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from . import contract_questions

FAMILIES = contract_questions.FAMILIES
MAX_PAGES = 30
PAGE_BREAK = "\f"

# askable clause topics: topic -> contract-schema field whose question pool asks about it
TOPICS: dict[str, str] = {
    "non_compete": "Non-Compete",
    "exclusivity": "Exclusivity",
    "cap_on_liability": "Cap on Liability",
    "insurance": "Insurance",
    "audit_rights": "Audit Rights",
    "anti_assignment": "Anti-Assignment",
    "change_of_control": "Change of Control",
    "termination_for_convenience": "Termination for Convenience",
    "minimum_commitment": "Minimum Commitment",
    "warranty_duration": "Warranty Duration",
    "no_solicit_employees": "No-Solicit of Employees",
    "non_disparagement": "Non-Disparagement",
    "source_code_escrow": "Source Code Escrow",
    "liquidated_damages": "Liquidated Damages",
    "most_favored_nation": "Most Favored Nation",
    "third_party_beneficiary": "Third Party Beneficiary",
    "license_grant": "License Grant",
    "ip_ownership": "IP Ownership Assignment",
}
# the three fields asked of every contract, with the schema fields their questions come from
CORE_TOPICS: dict[str, tuple[str, ...]] = {
    "governing_law": ("Governing Law",),
    "term": ("Expiration Date", "Renewal Term"),
    "parties": ("Parties",),
}
CLAUSE_TOPICS = ("parties", "governing_law", "term", *TOPICS)

# Lower-case word prefixes that only the topic's own clause may contain (see `mentions`). When a topic is
# absent none of them occurs anywhere in the contract, and every clause template of the topic contains one,
# so the check really covers the wording (both are tested).
TOPIC_KEYWORDS: dict[str, tuple[str, ...]] = {
    "governing_law": (
        "govern", "laws of", "law of", "choice of law", "conflict of law", "conflicts of law",
        "conflict-of-law", "jurisdiction", "courts of", "courts located", "venue", "arbitrat", "forum",
    ),
    "term": (
        "term of this", "term of the", "initial term", "renew", "expir", "remain in force",
        "remain in effect",
        "continue in force", "continue in effect", "commenc", "anniversary", "duration", "contract period",
        "run for", "lasts for", "terminates automatically", "successive", "extended", "extend this agreement",
        "rolls over",
    ),
    "non_compete": ("compet",),
    "exclusivity": (
        "exclusive basis", "exclusive supplier", "exclusive provider", "exclusive right", "exclusively",
        "exclusivity", "sole source", "sole supplier", "sole provider", "solely from",
    ),
    "cap_on_liability": (
        "aggregate liability", "total liability", "cumulative liability", "maximum liability", "liability of",
        "liable for more than", "shall not exceed", "will not exceed", "capped at", "in aggregate",
        "in no event",
        "limitation of liability", "liability cap", "recoverable",
    ),
    "insurance": ("insurance", "insured", "insurer", "underwrit"),
    "audit_rights": ("audit", "inspect", "books and records", "examine"),
    "anti_assignment": ("assign", "delegat"),
    "change_of_control": (
        "change of control", "change in control", "merge", "acquired by", "acquires", "controlling interest",
        "voting shares", "voting securities", "sale of shares", "substantially all of its assets",
    ),
    "termination_for_convenience": (
        "for convenience", "without cause", "for any reason", "no reason", "state a reason",
        "stating a reason",
        "giving a reason", "at will",
    ),
    "minimum_commitment": ("minimum",),
    "warranty_duration": ("warrant",),
    "no_solicit_employees": ("solicit", "hire", "recruit", "poach"),
    "non_disparagement": ("disparag", "derogatory", "defamatory"),
    "source_code_escrow": ("escrow", "source code"),
    "liquidated_damages": ("liquidated", "termination fee", "break fee", "penalty"),
    "most_favored_nation": (
        "more favorable", "more favourable", "less favorable", "less favourable", "favorable as",
        "favourable as", "most favored", "most favoured", "most-favo", "better terms", "lower prices",
    ),
    "third_party_beneficiary": (
        "beneficiar", "enforce any term", "enforce any provision", "right to enforce", "rights enforceable",
        "intended to benefit", "sole benefit",
    ),
    "license_grant": ("licen",),
    "ip_ownership": (
        "ownership", "owner of", "title to", "vest in", "vests in", "shall vest", "shall own", "property of",
        "work product", "rests with",
    ),
}  # fmt: skip

# ---- shared entity data (names, places, goods): not wording, identical for both families -------------------
# fmt: off
_COMPANY_WORDS = (
    "Northwind", "Bluewater", "Harborline", "Summit", "Crescent", "Ironwood", "Silverline", "Redstone",
    "Pinecrest", "Lakeshore", "Granite", "Meridian", "Vantage", "Keystone", "Brightpath", "Cobalt", "Falcon",
    "Orion", "Polaris", "Sterling", "Cardinal", "Horizon", "Juniper", "Aspen", "Beacon", "Cascade", "Emerald",
    "Fulcrum", "Greystone", "Halcyon", "Kestrel", "Lumen", "Magnolia", "Nimbus", "Oakridge", "Pioneer",
    "Quarry", "Riverbend", "Sable", "Tidewater", "Vertex", "Westbrook", "Zenith", "Alder", "Birchwood",
    "Copperline", "Driftwood", "Elmstead", "Foxglove", "Goldcrest", "Hawthorne", "Indigo", "Jasper",
    "Kinetic",
    "Larkspur", "Mariner", "Northgate", "Oxbow", "Parkview", "Quill", "Rowan", "Saltmarsh", "Thornbury",
    "Upland", "Valemont", "Willowbrook", "Yarrow", "Acme", "Atlas", "Bramble", "Corvid", "Dunmore", "Everly",
)
_NAME_HEADS = (
    "Cor", "Vex", "Lum", "Tri", "Nov", "Zen", "Ast", "Bel", "Cal", "Dor", "Fal", "Gal", "Hel", "Jov", "Kal",
    "Lyr", "Mav", "Nex", "Pra", "Qua", "Rho", "Syn", "Tal", "Ult", "Ver", "Wex", "Xan", "Zyl", "Arv", "Ome",
)
_NAME_TAILS = ("exa", "ora", "ium", "ix", "ara", "ent", "ova", "is", "eon", "yx", "ica", "ano", "elle", "ion")
_INDUSTRIES = (
    "Logistics", "Systems", "Labs", "Analytics", "Health", "Foods", "Energy", "Media", "Robotics", "Software",
    "Partners", "Holdings", "Technologies", "Biosciences", "Networks", "Materials", "Manufacturing",
    "Consulting", "Solutions", "Dynamics", "Industries", "Digital", "Therapeutics", "Freight", "Data",
    "Devices", "Pharma", "Retail", "Marine", "Aerospace", "Packaging", "Instruments",
)
_FIRST_NAMES = (
    "Maria", "James", "Aisha", "Wei", "Carlos", "Priya", "Olivia", "Daniel", "Fatima", "Liam", "Sofia",
    "Hiroshi", "Elena", "Kwame", "Grace", "Mateo", "Chloe", "Ahmed", "Hannah", "Ivan", "Nadia", "Samuel",
    "Yuki", "Lucas", "Amara", "Benjamin", "Ingrid", "Rahul", "Zoe", "Tomasz", "Leila", "Patrick", "Mei",
    "Diego", "Anika", "Oscar", "Rosa", "Kenji", "Sarah", "Emeka", "Julia", "Andre", "Nora", "Victor",
    "Isabel",
    "Jonas", "Layla", "Marcus", "Eva", "Tariq",
)
_LAST_NAMES = (
    "Chen", "Smith", "Okafor", "Garcia", "Patel", "Mueller", "Johnson", "Nakamura", "Rossi", "Kowalski",
    "Haddad", "O'Brien", "Nguyen", "Silva", "Andersson", "Dubois", "Ivanova", "Kim", "Mensah", "Williams",
    "Hernandez", "Brown", "Cohen", "Singh", "Tanaka", "Fischer", "Moreau", "Lopez", "Murphy", "Schmidt",
    "Jansen", "Rahman", "Costa", "Novak", "Larsen", "Ali", "Walker", "Reyes", "Park", "Bianchi", "Khan",
    "Wright", "Yamamoto", "Osei", "Clarke", "Ferreira", "Lindqvist", "Petrov", "Morgan", "Santos", "Hughes",
    "Kaur", "Becker", "Dumont", "Sato", "Bennett", "Alvarez", "Whitaker", "Ellison", "Pryce",
)
_STREETS = (
    "Main Street", "Market Street", "Harbor Boulevard", "Elm Avenue", "Commerce Drive", "Industrial Parkway",
    "Lake Road", "Pine Street", "Riverside Drive", "Oak Lane", "Madison Avenue", "Innovation Way",
    "Technology Drive", "Union Square", "Center Street", "Park Avenue",
)
_UK_STREETS = ("High Street", "Station Road", "King Street", "Victoria Road", "Church Lane", "Mill Road")
_EU_STREETS = ("Hauptstrasse", "Rue de la Paix", "Herengracht", "Bahnhofstrasse", "Via Roma", "Kungsgatan")
# (city, state) for US addresses
_US_CITIES = (
    ("Austin", "Texas"), ("Houston", "Texas"), ("Dallas", "Texas"), ("San Diego", "California"),
    ("Los Angeles", "California"), ("San Jose", "California"), ("Brooklyn", "New York"),
    ("Buffalo", "New York"), ("Cleveland", "Ohio"), ("Columbus", "Ohio"), ("Tampa", "Florida"),
    ("Orlando", "Florida"), ("Boulder", "Colorado"), ("Denver", "Colorado"), ("Pittsburgh", "Pennsylvania"),
    ("Raleigh", "North Carolina"), ("Madison", "Wisconsin"), ("Ann Arbor", "Michigan"), ("Omaha", "Nebraska"),
    ("Boise", "Idaho"), ("Albuquerque", "New Mexico"), ("Louisville", "Kentucky"), ("Des Moines", "Iowa"),
    ("Jersey City", "New Jersey"), ("Wilmington", "Delaware"), ("Chicago", "Illinois"),
    ("Seattle", "Washington"), ("Atlanta", "Georgia"), ("Boston", "Massachusetts"), ("Phoenix", "Arizona"),
    ("Nashville", "Tennessee"), ("Portland", "Oregon"), ("Minneapolis", "Minnesota"),
)
_US_STATES_OF_INCORPORATION = (
    "Delaware", "Delaware", "Delaware", "New York", "California", "Texas", "Nevada", "Florida", "Ohio",
    "Illinois", "Washington", "Colorado", "Georgia", "Massachusetts", "North Carolina", "Minnesota",
)
# (country as written in a party description, company suffixes, cities, street style)
_INTL = (
    ("England and Wales", ("Ltd", "Limited", "plc", "LLP"), ("London", "Manchester", "Leeds"), "uk"),
    ("Scotland", ("Ltd", "Limited"), ("Edinburgh", "Glasgow", "Aberdeen"), "uk"),
    ("Ireland", ("Limited", "DAC"), ("Dublin", "Cork", "Galway"), "uk"),
    ("Germany", ("GmbH", "AG"), ("Frankfurt", "Munich", "Hamburg", "Berlin"), "eu"),
    ("France", ("SAS", "S.A."), ("Paris", "Lyon", "Lille"), "eu"),
    ("the Netherlands", ("B.V.",), ("Amsterdam", "Rotterdam", "Utrecht"), "eu"),
    ("Singapore", ("Pte Ltd",), ("Singapore",), "uk"),
    ("Ontario", ("Inc.", "Ltd."), ("Toronto", "Ottawa", "Mississauga"), "uk"),
    ("British Columbia", ("Inc.", "Ltd."), ("Vancouver", "Victoria"), "uk"),
    ("Australia", ("Pty Ltd",), ("Sydney", "Melbourne", "Brisbane"), "uk"),
)
# Governing-law places: (place as expected, law phrase, court city, kind, "{place} law" reads well)
_GL_PLACES = (
    ("Delaware", "the State of Delaware", "Wilmington", "us", True),
    ("Delaware", "the State of Delaware", "Wilmington", "us", True),
    ("New York", "the State of New York", "New York County", "us", True),
    ("New York", "the State of New York", "Manhattan", "us", True),
    ("California", "the State of California", "San Francisco", "us", True),
    ("Texas", "the State of Texas", "Dallas County", "us", True),
    ("Illinois", "the State of Illinois", "Cook County", "us", True),
    ("Massachusetts", "the Commonwealth of Massachusetts", "Boston", "us", True),
    ("Pennsylvania", "the Commonwealth of Pennsylvania", "Philadelphia", "us", True),
    ("Virginia", "the Commonwealth of Virginia", "Richmond", "us", True),
    ("Washington", "the State of Washington", "King County", "us", True),
    ("Florida", "the State of Florida", "Miami-Dade County", "us", True),
    ("Georgia", "the State of Georgia", "Atlanta", "us", True),
    ("Colorado", "the State of Colorado", "Denver", "us", True),
    ("New Jersey", "the State of New Jersey", "Newark", "us", True),
    ("Ohio", "the State of Ohio", "Columbus", "us", True),
    ("Minnesota", "the State of Minnesota", "Minneapolis", "us", True),
    ("North Carolina", "the State of North Carolina", "Charlotte", "us", True),
    ("Nevada", "the State of Nevada", "Las Vegas", "us", True),
    ("Arizona", "the State of Arizona", "Phoenix", "us", True),
    ("Michigan", "the State of Michigan", "Detroit", "us", True),
    ("Oregon", "the State of Oregon", "Portland", "us", True),
    ("Utah", "the State of Utah", "Salt Lake City", "us", True),
    ("Maryland", "the State of Maryland", "Baltimore", "us", True),
    ("Tennessee", "the State of Tennessee", "Nashville", "us", True),
    ("Connecticut", "the State of Connecticut", "Hartford", "us", True),
    ("Wisconsin", "the State of Wisconsin", "Milwaukee", "us", True),
    ("Indiana", "the State of Indiana", "Indianapolis", "us", True),
    ("Ontario", "the Province of Ontario", "Toronto", "other", True),
    ("British Columbia", "the Province of British Columbia", "Vancouver", "other", True),
    ("Quebec", "the Province of Quebec", "Montreal", "other", True),
    ("Alberta", "the Province of Alberta", "Calgary", "other", True),
    ("New South Wales", "the State of New South Wales", "Sydney", "other", True),
    ("Victoria", "the State of Victoria", "Melbourne", "other", True),
    ("England and Wales", "England and Wales", "London", "other", False),
    ("England and Wales", "England and Wales", "London", "other", False),
    ("Scotland", "Scotland", "Edinburgh", "other", False),
    ("Ireland", "Ireland", "Dublin", "other", False),
    ("Singapore", "the Republic of Singapore", "Singapore", "other", True),
    ("Germany", "the Federal Republic of Germany", "Frankfurt am Main", "other", False),
    ("France", "France", "Paris", "other", False),
    ("Netherlands", "the Netherlands", "Amsterdam", "other", False),
    ("Switzerland", "Switzerland", "Zurich", "other", False),
    ("Hong Kong", "the Hong Kong Special Administrative Region", "Hong Kong", "other", True),
    ("Sweden", "Sweden", "Stockholm", "other", False),
    ("Japan", "Japan", "Tokyo", "other", False),
)
# (title, role of the customer "A", role of the provider "B", kind, topics the type forces present)
_AGREEMENT_TYPES = (
    ("Master Services Agreement", "Client", "Provider", "services", ()),
    ("Professional Services Agreement", "Client", "Consultant", "services", ()),
    ("Consulting Agreement", "Company", "Consultant", "services", ()),
    ("Supply Agreement", "Buyer", "Supplier", "goods", ()),
    ("Manufacturing Services Agreement", "Customer", "Manufacturer", "goods", ()),
    ("Software License Agreement", "Licensee", "Licensor", "services", ("license_grant",)),
    ("SaaS Subscription Agreement", "Subscriber", "Provider", "services", ()),
    ("Logistics Services Agreement", "Shipper", "Carrier", "services", ()),
    ("Maintenance and Support Agreement", "Customer", "Contractor", "services", ()),
    ("Marketing Services Agreement", "Client", "Agency", "services", ()),
    ("Outsourcing Agreement", "Customer", "Service Provider", "services", ()),
    ("Hosting Services Agreement", "Customer", "Host", "services", ()),
    ("Purchase Agreement", "Purchaser", "Seller", "goods", ()),
    ("Reseller Agreement", "Reseller", "Vendor", "goods", ()),
    ("Equipment Lease and Service Agreement", "Lessee", "Lessor", "goods", ()),
    ("Data Processing Services Agreement", "Controller", "Processor", "services", ()),
)
_SERVICES = (
    "freight forwarding services", "payroll processing services", "cloud hosting services",
    "warehouse management services", "clinical data management services", "digital marketing services",
    "equipment maintenance services", "IT support services", "translation services",
    "security monitoring services", "facilities management services", "software development services",
    "fleet telematics services", "document imaging services", "customer support services",
    "laboratory testing services", "contract packaging services", "event management services",
    "network operations services", "procurement advisory services",
)
_PRODUCTS = (
    "industrial sensors", "replacement filters", "medical gloves", "solar inverters", "LED fixtures",
    "printed circuit boards", "food-grade containers", "lithium battery packs", "office furniture",
    "network switches", "specialty coatings", "laboratory reagents", "hydraulic valves", "packaging films",
    "point-of-sale terminals", "safety helmets",
)
_TERRITORIES = (
    "the United States", "Canada", "the European Union", "the State of Texas", "the Province of Quebec",
    "Germany, Austria and Switzerland", "the Asia-Pacific region", "Latin America", "the United Kingdom",
    "Australia and New Zealand", "the Nordic countries", "Mexico", "the Midwest region of the United States",
    "the State of California", "Ireland",
)
_ROLES = (
    "General Counsel", "Chief Financial Officer", "Head of Procurement", "Operations Director",
    "Contracts Manager", "Vice President, Legal", "Chief Executive Officer", "Company Secretary",
)
_AREAS = (
    "Data Migration", "Network Upgrade", "Warehouse Automation", "Customer Onboarding",
    "Reporting and Analytics",
    "Fleet Scheduling", "Quality Assurance", "Training", "Site Readiness", "Integration Testing",
    "Helpdesk Setup", "Process Redesign", "Packaging Design", "Supplier Onboarding", "Inventory Planning",
    "Security Hardening", "Cloud Deployment", "Document Digitisation",
)
_VERBS = (
    "design", "configure", "deploy", "document", "test", "maintain", "migrate", "optimise", "install",
    "review", "upgrade", "monitor",
)
_OBJECTS = (
    "inventory tracking system", "customer onboarding workflow", "regional distribution network",
    "payroll interface", "reporting dashboards", "quality control procedures", "fleet scheduling tool",
    "returns handling process", "data warehouse", "label printing system", "call routing rules",
    "supplier portal",
)
_DEPTS = (
    "finance", "operations", "procurement", "customer service", "logistics", "human resources", "marketing",
    "IT", "quality", "facilities",
)
_DELIVERABLES = (
    "a design document", "a test plan", "a configured production environment", "user training materials",
    "a cut-over plan", "weekly status reports", "a final acceptance report", "process maps",
    "an operations manual", "a data dictionary", "a risk register", "a handover checklist",
)
_FACILITIES = (
    "distribution centre", "head office", "data centre", "manufacturing plant", "regional office",
    "warehouse", "service hub",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_METRICS = (
    ("Platform availability", ("99.5%", "99.9%", "99.95%")),
    ("Response time for critical incidents", ("30 minutes", "1 hour", "2 hours")),
    ("Resolution time for critical incidents", ("4 hours", "8 hours", "12 hours")),
    ("On-time delivery", ("95%", "97%", "98.5%")),
    ("Order accuracy", ("99%", "99.2%", "99.5%")),
    ("First-contact resolution", ("75%", "80%", "85%")),
    ("Invoice accuracy", ("98%", "99%")),
    ("Average call answer time", ("30 seconds", "45 seconds", "60 seconds")),
    ("Backup success rate", ("99%", "99.9%")),
    ("Dock-to-stock time", ("24 hours", "48 hours")),
)
_MEASURES = (
    "measured monthly", "measured each calendar quarter", "assessed over each calendar month",
    "reported weekly", "calculated per quarter",
)
_PRICE_ITEMS = (
    ("Senior consultant", "day"), ("Analyst", "day"), ("Pallet storage", "pallet per week"),
    ("Standard shipment", "shipment"), ("Express shipment", "shipment"), ("Helpdesk ticket", "ticket"),
    ("On-site visit", "visit"), ("Training session", "session"), ("Additional user", "user per month"),
    ("Data storage", "terabyte per month"), ("Unit assembly", "unit"), ("Project management", "month"),
)
_INSURANCE_TYPES = (
    "commercial general liability", "professional indemnity", "product liability", "cyber liability",
    "employer's liability", "public liability",
)
_LICENSE_SCOPES = (
    "non-exclusive, non-transferable", "non-exclusive, worldwide", "limited, revocable, non-exclusive",
    "non-exclusive, non-sublicensable", "non-exclusive, royalty-bearing",
)
_AUDIT_FREQUENCIES = (
    "once in any twelve-month period", "once per calendar year", "no more than twice per year",
    "once each quarter",
)
_CURRENCIES = (("$", "US dollars"), ("$", "US dollars"), ("EUR ", "euros"), ("GBP ", "pounds sterling"),
               ("CAD ", "Canadian dollars"))
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)
_FOOTERS = ("Page {i} of {n}", "- {i} -", "{title} | Page {i}", "Confidential - {i}", "{ref} / {i}", "{i}")
# fmt: on

# ---- wording tables, one per family ------------------------------------------------------------------------
# Slots: {A} / {B} the customer's / provider's defined name, {service}, {product}; other slots ({days},
# {person}, {city}, ...) are drawn fresh for each sentence (see `_dynamic`). Clause tables hold tuples of
# sentences (one clause = 1-3 sentences, all gold).
_TRAIN: dict[str, tuple] = {
    "title": ("{TITLE}", "{title}", "{TITLE}\n\nContract No. {ref}"),
    "preamble": (
        'This {title} (the "Agreement") is entered into as of {date} (the "Effective Date") by and between '
        "{a}, and {b}.",
        "THIS {TITLE} is made on {date}\n\nBETWEEN:\n\n(1) {a}; and\n\n(2) {b}.",
        'This Agreement is made and entered into on {date} by {a} and {b} (each a "Party" and together the '
        '"Parties").',
        "The undersigned parties, {a} and {b}, agree as follows:",
        'Party A: {name1} ("{short1}")\nAddress: {addr1}\n\nParty B: {name2} ("{short2}")\nAddress: '
        "{addr2}\n\nDate: {date}",
        "This {title} is dated {date} and is made between {a} and {b}.",
        "AGREEMENT made as of {date}, between {a}, and {b}.",
        "{a} and {b} hereby enter into this {title} effective {date}.",
    ),
    "party_us": (
        "{name}, a {state} {entity} ({short_def})",
        "{name} ({short_def}), with its principal place of business at {address}",
        "{NAME}, a {state} {entity} with offices at {address} ({short_def})",
        "{name}, a {entity} organized in {state} ({short_def})",
    ),
    "party_intl": (
        "{name}, a company incorporated in {country} with registration number {regno} ({short_def})",
        "{name} ({short_def}), having its registered office at {address}",
        "{NAME}, a company registered in {country} ({short_def})",
    ),
    "party_person": (
        "{name}, an individual residing at {address} ({short_def})",
        "{name} ({short_def}), of {address}",
    ),
    "recital": (
        "WHEREAS, {A} wishes to obtain {service} for its operations;",
        "WHEREAS, {B} is engaged in the business of providing {service} and has the experience to provide "
        "them;",
        "WHEREAS, the parties wish to set out the terms on which {B} will supply the {product} and related "
        "services to {A};",
    ),
    "recital_close": (
        "NOW, THEREFORE, in consideration of the mutual promises set out below, the parties agree as "
        "follows:",
        "NOW, THEREFORE, the parties agree as follows:",
    ),
    "governing_law": (
        "This Agreement shall be governed by and construed in accordance with the laws of {law}, without "
        "regard to its conflict of laws principles.",
        "{place} law governs the interpretation of this Agreement.",
        "This Agreement and any non-contractual obligations arising out of or in connection with it are "
        "governed by the laws of {law}.",
        "The parties agree that the laws of {law} apply to this Agreement and to all matters arising from "
        "it.",
        "All questions concerning the construction, validity and interpretation of this Agreement will be "
        "governed by the internal laws of {law}.",
        "This Agreement is made under, and shall be interpreted according to, the laws of {law}.",
        "The rights and obligations of {A} and {B} under this Agreement shall be determined in accordance "
        "with the laws of {law}, excluding any rules that would refer the matter to another jurisdiction.",
        "This contract is to be read and enforced under the law of {law}.",
        "Each party agrees that this Agreement shall be subject to, and construed under, the substantive "
        "law of {law}.",
        "The laws of {law}, other than its choice of law rules, shall govern this Agreement in all respects.",
        "Governing law: {law}.",
        "In all respects, including matters of construction and performance, this Agreement is governed by "
        "the laws of {law}.",
    ),
    "forum": (
        "Each party irrevocably submits to the exclusive jurisdiction of {courts}.",
        "Any action arising out of this Agreement shall be brought only in {courts}, and the parties "
        "consent to the jurisdiction of those courts.",
        "The parties agree that {courts} shall have exclusive jurisdiction to settle any dispute arising "
        "out of or in connection with this Agreement.",
        "Venue for any proceeding relating to this Agreement shall lie in {courts}.",
        "Any dispute that cannot be settled amicably shall be finally resolved by arbitration seated in "
        "{city}.",
        "Both parties waive any objection to proceedings in {courts} on the grounds of inconvenient forum.",
    ),
    "term_duration": (
        "This Agreement commences on {start} and continues for {duration}, unless terminated earlier in "
        "accordance with its terms.",
        "The initial term of this Agreement is {duration} from {start}.",
        "This Agreement shall remain in force for a period of {duration} beginning on {start}.",
        "Unless ended sooner under Section {sec}, this Agreement will run for {duration} starting on "
        "{start}.",
        "Initial Term: {duration} from {start}.",
        "The term of this Agreement shall be {duration}, measured from {start}.",
    ),
    "term_date": (
        "The term of this Agreement shall end on {end_date}.",
        "This Agreement takes effect on {start} and expires on {end_date}, unless extended by written "
        "agreement of the parties.",
        "This Agreement will remain in effect until {end_date}.",
        "The term of this Agreement begins on {start} and ends at midnight on {end_date}.",
    ),
    "term_combined": (
        "This Agreement shall remain in force for an initial period of {duration} and renew automatically "
        "for successive periods of {renewal} unless either party gives at least {notice_poss} written "
        "notice of non-renewal.",
        "The Agreement starts on {start}, lasts {duration}, and thereafter rolls over for further periods "
        "of {renewal} unless cancelled by either party on {notice_poss} notice before the end of the "
        "then-current period.",
        "The initial term of this Agreement is {duration}, after which it will renew for successive terms of "
        "{renewal} each unless a party elects not to renew by notice given {notice} before renewal.",
    ),
    "renewal": (
        "Thereafter, this Agreement shall automatically renew for successive renewal terms of {renewal} "
        "each, unless either party notifies the other of its intention not to renew at least {notice} "
        "before the end of the then-current term.",
        "Upon expiry of the initial term, the Agreement will be extended for additional periods of {renewal} "
        "unless a party objects in writing no later than {notice} prior to expiry.",
        "The parties may extend this Agreement for a further {renewal} by mutual written agreement.",
    ),
    "clause:non_compete": (
        (
            "While this Agreement is in force and for {period} afterwards, {B} shall not, directly or "
            "indirectly, engage in any business that competes with the business of {A} in {territory}.",
        ),
        (
            "{B} agrees that it will not compete with {A} in {territory} for {period} following the end of "
            "this Agreement.",
            "This restriction applies to {B} and each of its affiliates.",
        ),
        (
            "For a period of {period} after the date of this Agreement, neither party shall develop, market "
            "or sell products that compete with the products of the other party in {territory}.",
        ),
        (
            "{B} covenants not to operate, own or provide services to any competing business within "
            "{territory} until {period} after its last delivery under this Agreement.",
        ),
    ),
    "clause:exclusivity": (
        (
            "{A} appoints {B} as its exclusive provider of {service} in {territory}.",
            "{A} shall not engage any other person to provide such services in {territory} while this "
            "Agreement is in force.",
        ),
        ("{A} shall purchase all of its requirements for the {product} exclusively from {B}.",),
        (
            "{B} shall supply the {product} to {A} on an exclusive basis and shall not supply the {product} "
            "to any other customer in {territory}.",
        ),
        (
            "For {period} after the Effective Date, {A} shall deal exclusively with {B} for {service} in "
            "{territory}.",
        ),
    ),
    "clause:cap_on_liability": (
        (
            "In no event shall either party's aggregate liability arising out of or related to this "
            "Agreement exceed {cap}.",
        ),
        (
            "{B}'s total liability to {A} for all claims under this Agreement shall not exceed {cap}.",
            "This limitation applies to claims in contract, tort or otherwise.",
        ),
        ("The maximum liability of each party under this Agreement is {cap}.",),
        (
            "Except for its payment obligations, neither party will be liable for more than {cap} in "
            "respect of all claims arising under this Agreement.",
        ),
    ),
    "clause:insurance": (
        (
            "{B} shall maintain, at its own expense, {insurance_type} insurance with limits of not less than "
            "{amount} per occurrence.",
        ),
        (
            "{B} will keep in place with reputable insurers policies covering {insurance_type} in an amount "
            "of at least {amount}.",
            "{B} shall provide certificates of insurance to {A} on request.",
        ),
        (
            "{A} shall be named as an additional insured on {B}'s {insurance_type} policy, which shall have "
            "limits of {amount}.",
        ),
        (
            "Each party shall carry adequate insurance, including {insurance_type} cover of {amount}, with "
            "an insurer rated A- or better.",
        ),
    ),
    "clause:audit_rights": (
        (
            "{A} may, on {notice_poss} prior written notice, audit the books and records of {B} relating to "
            "this Agreement {freq}.",
        ),
        (
            "{B} shall permit {A} or its auditors to inspect its facilities and records to verify compliance "
            "with this Agreement, {freq}.",
        ),
        (
            "Upon reasonable notice, {A} shall have the right to examine the relevant accounts of {B}.",
            "Any such review shall take place during normal business hours and no more than {freq}.",
        ),
        (
            "{B} will keep complete books and records of all fees charged and make them available for audit "
            "by an independent accountant chosen by {A}, {freq}.",
        ),
    ),
    "clause:anti_assignment": (
        (
            "Neither party may assign this Agreement without the prior written consent of the other party, "
            "which shall not be unreasonably withheld.",
        ),
        (
            "{B} shall not assign, delegate or otherwise transfer any of its rights or obligations under "
            "this Agreement without the written consent of {A}.",
            "Any attempted assignment in breach of this clause is void.",
        ),
        (
            "{A} may assign this Agreement to any of its affiliates on written notice to {B}; any other "
            "assignment requires the consent of {B}.",
        ),
        ("This Agreement is personal to {B}, and {B} may not assign it in whole or in part.",),
    ),
    "clause:change_of_control": (
        (
            "If {B} undergoes a change of control, {A} may terminate this Agreement by written notice within "
            "{days} of becoming aware of it.",
        ),
        (
            "{B} shall notify {A} promptly of any merger, consolidation or sale of all or substantially all "
            "of its assets.",
            "Following such an event, {A} may end this Agreement on {notice_poss} notice.",
        ),
        ("A change in control of either party requires the prior written consent of the other party.",),
        (
            "If any third party acquires a controlling interest in {B}, {A} shall have the right to "
            "terminate this Agreement immediately.",
        ),
    ),
    "clause:termination_for_convenience": (
        (
            "Either party may terminate this Agreement for convenience upon {notice_poss} prior written "
            "notice to the other party.",
        ),
        (
            "{A} may terminate this Agreement at any time, without cause, by giving {B} {notice_poss} "
            "written notice.",
        ),
        (
            "{A} may end this Agreement for any reason or no reason on {notice_poss} notice.",
            "In that case {A} shall pay {B} for services performed up to the date on which the notice takes "
            "effect.",
        ),
        (
            "Without prejudice to its other rights, each party may terminate this Agreement without cause by "
            "providing not less than {notice_poss} notice in writing.",
        ),
    ),
    "clause:minimum_commitment": (
        ("{A} shall purchase a minimum of {min_qty} of the {product} from {B}.",),
        (
            "{A} commits to a minimum spend of {min_spend} under this Agreement.",
            "If the purchases of {A} fall short of that amount, {A} shall pay {B} the shortfall.",
        ),
        ("The minimum order quantity is {min_qty}.",),
        ("{A} will pay {B} a minimum fee of {min_spend}, whether or not it uses the {service} in full.",),
    ),
    "clause:warranty_duration": (
        (
            "{B} warrants that the {product} will be free from defects in materials and workmanship for "
            "{wperiod} from delivery.",
        ),
        ("The warranty period for all Deliverables is {wperiod} following acceptance by {A}.",),
        (
            "{B} warrants that the {service} will be performed in a professional manner and will conform to "
            "the Specifications for {wperiod} after completion.",
        ),
        (
            "For {wperiod} after installation, {B} will repair or replace at no charge any item that fails "
            "to perform as warranted.",
        ),
    ),
    "clause:no_solicit_employees": (
        (
            "While this Agreement is in force and for {period} afterwards, neither party shall solicit for "
            "employment any employee of the other party.",
        ),
        (
            "{A} shall not hire or attempt to hire any personnel of {B} involved in the {service} for "
            "{period} after the last date of service.",
        ),
        (
            "Neither party will recruit or engage the staff of the other party without prior written "
            "consent, while this Agreement is in force and for {period} thereafter.",
        ),
        (
            "{B} agrees not to solicit or induce any employee of {A} to leave that employment within "
            "{period} of the date of this Agreement.",
        ),
    ),
    "clause:non_disparagement": (
        ("Neither party shall make any public statement that disparages the other party or its products.",),
        (
            "{B} agrees not to make any false, misleading or disparaging remarks about {A}, its officers or "
            "its services.",
        ),
        ("Each party shall refrain from publishing derogatory statements concerning the other party.",),
        (
            "Neither party will disparage the other or damage its reputation, whether orally or in writing.",
            "This obligation survives for {period} after this Agreement ends.",
        ),
    ),
    "clause:source_code_escrow": (
        (
            "{B} shall deposit the source code of the Software with {agent} under a three-party escrow "
            "agreement.",
            "The source code shall be released to {A} if {B} becomes insolvent or ceases to support the "
            "Software.",
        ),
        (
            "{B} will keep a current copy of the source code in escrow with {agent} and update it with each "
            "major release.",
        ),
        (
            "Within {days} of the Effective Date, {B} shall place the source code and build documentation "
            "for the Software in escrow with {agent}.",
        ),
        (
            "{A} shall be entitled to receive the escrowed source code from {agent} if {B} fails to remedy a "
            "material support failure.",
        ),
    ),
    "clause:liquidated_damages": (
        (
            "If {B} fails to deliver by the agreed date, {B} shall pay {A} liquidated damages of {ld} for "
            "each day of delay.",
        ),
        (
            "The parties agree that {ld} per week of delay is a genuine pre-estimate of the loss of {A} and "
            "shall be payable as liquidated damages.",
        ),
        ("For each missed milestone, {B} shall pay {A} {ld} as liquidated damages and not as a penalty.",),
        (
            "Liquidated damages of {ld} shall apply to each failure to meet the service levels in Schedule "
            "{sched}.",
        ),
    ),
    "clause:most_favored_nation": (
        (
            "{B} shall not offer any other customer prices for the {product} that are more favorable than "
            "those offered to {A}.",
        ),
        (
            "If {B} grants better terms to any third party for comparable {service}, {B} shall offer the "
            "same terms to {A}.",
        ),
        (
            "{B} represents that the prices charged to {A} are no less favorable than the prices charged to "
            "any of its other customers.",
        ),
        ("{A} shall receive most favored customer pricing for all {product}.",),
    ),
    "clause:third_party_beneficiary": (
        (
            "Nothing in this Agreement confers any rights on any person other than the parties, and there "
            "are no third-party beneficiaries.",
        ),
        (
            "The affiliates of {A} are intended third-party beneficiaries of this Agreement and may enforce "
            "it directly.",
        ),
        ("A person who is not a party to this Agreement has no right to enforce any term of it.",),
        (
            "This Agreement is for the sole benefit of the parties and their permitted successors, and no "
            "other person shall be a beneficiary of it.",
        ),
    ),
    "clause:license_grant": (
        ("{B} grants {A} a {scope} license to use the Software for its internal business purposes.",),
        (
            "Subject to payment of the fees, {B} hereby grants to {A} a {scope} licence to install and use "
            "the {product}.",
        ),
        ("{A} is licensed, on {scope} terms, to reproduce and distribute the Documentation.",),
        (
            "{B} grants to {A} and its affiliates a {scope} license to access the platform during the "
            "subscription period.",
        ),
    ),
    "clause:ip_ownership": (
        (
            "All Deliverables, and all intellectual property rights in them, shall vest in {owner} upon "
            "creation.",
        ),
        (
            "{other} agrees that all work product created under this Agreement shall be the sole property "
            "of {owner}.",
        ),
        ("Title to all inventions made by {other} in performing the {service} shall pass to {owner}.",),
        (
            "{owner} shall own all right, title and interest in the results of the {service}, and {other} "
            "shall execute any documents needed to confirm that ownership.",
        ),
    ),
    "filler:services": (
        "{B} shall provide the {service} to {A} in accordance with this Agreement and each applicable "
        "Statement of Work.",
        "{B} shall perform the {service} with the degree of skill and care expected of a qualified provider "
        "of similar services.",
        "{A} may request changes to the scope of the {service} by submitting a written change request.",
        "{B} will supply all personnel, equipment and materials necessary to perform the {service}, except "
        "as otherwise agreed.",
        "Each Statement of Work shall describe the deliverables, milestones and fees for the relevant "
        "project.",
    ),
    "filler:fees_payment": (
        "{A} shall pay {B} the fees set out in Schedule {sched} within {days} after receipt of a correct "
        "invoice.",
        "{B} shall invoice {A} monthly in arrears for the {service} performed in the preceding month.",
        "Late payments shall bear interest at the rate of {pct} per month until paid in full.",
        "All amounts are stated and payable in {currency}.",
        "{A} may withhold payment of any invoiced amount that it disputes in good faith, provided it "
        "notifies {B} of the dispute promptly.",
    ),
    "filler:taxes": (
        "Each party is responsible for its own income taxes.",
        "{A} shall pay any sales, use or value added tax properly chargeable on the fees, in addition to "
        "the fees.",
        "If {A} is required by law to withhold any tax from a payment, it shall gross up the payment so "
        "that {B} receives the full amount.",
        "The parties shall cooperate to reduce any withholding taxes on payments under this Agreement.",
    ),
    "filler:confidentiality": (
        "Each party shall keep confidential all Confidential Information received from the other party and "
        "shall use it only to perform its obligations under this Agreement.",
        "Confidential Information does not include information that is or becomes publicly available "
        "through no fault of the receiving party.",
        "The receiving party may disclose Confidential Information to its employees and advisers who need "
        "to know it and who are bound by obligations of confidence.",
        "The receiving party may disclose Confidential Information where required by law or by order of a "
        "court, provided it gives the disclosing party prompt notice where lawful.",
        "On request, the receiving party shall return or destroy all Confidential Information of the "
        "disclosing party.",
    ),
    "filler:notices": (
        "All notices under this Agreement shall be in writing and delivered by hand, by courier or by email "
        "to the addresses set out above.",
        "Notices to {A} shall be marked for the attention of {person}, {role}.",
        "A notice is deemed received on the next Business Day after it is sent by email, unless the sender "
        "receives a delivery failure message.",
        "Either party may change its notice address by giving notice to the other party.",
    ),
    "filler:indemnification": (
        "{B} shall indemnify {A} against all losses, damages and reasonable costs arising from any claim by "
        "a third party caused by the negligence or wilful misconduct of {B}.",
        "The indemnified party shall notify the indemnifying party promptly of any claim and allow it to "
        "conduct the defence.",
        "The indemnified party shall provide reasonable assistance, at the indemnifying party's expense, in "
        "the defence of any claim.",
        "No settlement that imposes obligations on the indemnified party may be agreed without its consent.",
    ),
    "filler:force_majeure": (
        "Neither party shall be responsible for any failure or delay in performance caused by events beyond "
        "its reasonable control, including fire, flood, epidemic, war or labour disputes.",
        "The affected party shall notify the other party promptly of the force majeure event and use "
        "reasonable efforts to resume performance.",
        "If a force majeure event continues for more than {days}, either party may end the affected "
        "Statement of Work by written notice.",
        "Payment obligations are not excused by a force majeure event.",
    ),
    "filler:entire_agreement": (
        "This Agreement constitutes the entire agreement between the parties and supersedes all prior "
        "agreements and understandings relating to its subject matter.",
        "Each party acknowledges that it has not relied on any statement that is not set out in this "
        "Agreement.",
        "In the event of any inconsistency between the body of this Agreement and a Schedule, the body of "
        "this Agreement prevails.",
    ),
    "filler:counterparts": (
        "This Agreement may be executed in any number of counterparts, each of which is an original and all "
        "of which together constitute one instrument.",
        "Signatures delivered by electronic means shall be as effective as original signatures.",
        "This Agreement shall become binding when each party has signed at least one counterpart.",
    ),
    "filler:severability": (
        "If any provision of this Agreement is held invalid or unenforceable, the remaining provisions shall "
        "continue to be valid and enforceable.",
        "The parties shall replace any invalid provision with a valid provision that achieves as nearly as "
        "possible the same effect.",
    ),
    "filler:waiver": (
        "No failure or delay by a party in exercising any right under this Agreement operates as a waiver "
        "of that right.",
        "A waiver is effective only if it is in writing and signed by the waiving party.",
    ),
    "filler:relationship": (
        "The parties are independent contractors, and nothing in this Agreement creates a partnership, joint "
        "venture or agency relationship.",
        "Neither party has authority to bind the other party or to incur obligations on its behalf.",
        "{B} is solely responsible for the wages, benefits and supervision of its personnel.",
    ),
    "filler:authority": (
        "Each party confirms that it has full power and authority to enter into and perform this Agreement.",
        "The execution of this Agreement has been duly authorised by all necessary corporate action of each "
        "party.",
        "Entering into this Agreement does not breach any other agreement by which a party is bound.",
    ),
    "filler:compliance": (
        "Each party shall comply with all applicable laws and regulations in performing this Agreement.",
        "{B} shall not offer or pay any bribe or improper payment to any public official in connection with "
        "this Agreement.",
        "{B} shall obtain and maintain all permits required to perform the {service}.",
    ),
    "filler:data_protection": (
        "Each party shall process personal data received under this Agreement in accordance with applicable "
        "data protection legislation.",
        "{B} shall implement appropriate technical and organisational measures to protect personal data "
        "against unauthorised processing.",
        "{B} shall notify {A} without undue delay after becoming aware of a personal data breach.",
    ),
    "filler:amendments": (
        "No amendment to this Agreement is effective unless it is in writing and signed by authorised "
        "representatives of both parties.",
        "Purchase order terms that conflict with this Agreement shall have no effect.",
    ),
    "filler:publicity": (
        "Neither party shall issue any press release or public announcement about this Agreement without the "
        "prior written approval of the other party.",
        "{B} may not use the name or logo of {A} in marketing materials without the consent of {A}.",
    ),
    "filler:personnel": (
        "{B} shall ensure that all personnel performing the {service} are appropriately trained and "
        "qualified.",
        "{A} may request the removal of any member of the personnel of {B} who, in the reasonable opinion "
        "of {A}, is unsuitable.",
        "{B} shall conduct background checks on its personnel to the extent permitted by law.",
    ),
    "filler:delivery_acceptance": (
        "{B} shall deliver the {product} to the delivery address specified in the relevant purchase order.",
        "Risk of loss passes to {A} on delivery.",
        "{A} shall check the Deliverables within {days} of delivery and notify {B} of any non-conformity.",
        "Deliverables are accepted when {A} confirms acceptance in writing or fails to reject them within "
        "{days}.",
    ),
    "filler:termination_breach": (
        "Either party may terminate this Agreement with immediate effect by written notice if the other "
        "party commits a material breach and fails to remedy it within {days} after receiving notice of the "
        "breach.",
        "Either party may terminate this Agreement immediately if the other party becomes insolvent, enters "
        "into liquidation or has a receiver appointed over its assets.",
        "Upon termination, {A} shall pay {B} all undisputed fees for services performed before the "
        "termination date.",
        "Termination does not affect any rights or remedies that accrued before termination.",
    ),
    "filler:dispute_escalation": (
        "The parties shall attempt in good faith to resolve any dispute arising under this Agreement through "
        "discussions between their project managers.",
        "If the project managers cannot resolve a dispute within {days}, either party may refer it to senior "
        "executives of both parties.",
        "Each party shall continue to perform its obligations while a dispute is being resolved.",
    ),
    "filler:interpretation": (
        "Headings are for reference only and do not affect the interpretation of this Agreement.",
        "Words in the singular include the plural and vice versa.",
        "References to a statute include that statute as amended or re-enacted.",
    ),
    "filler:security": (
        "{B} shall maintain an information security programme that meets recognised industry standards.",
        "{B} shall ensure that access to the systems of {A} is limited to authorised personnel.",
        "{B} shall promptly report any security incident affecting the data of {A}.",
    ),
    "filler:cooperation": (
        "Each party shall execute such further documents and do such further acts as may reasonably be "
        "required to give effect to this Agreement.",
        "The parties shall meet at least quarterly to review the performance of the {service}.",
    ),
    "definition": (
        '"Business Day" means any day other than a Saturday, Sunday or public holiday in {city}.',
        '"Deliverables" means all documents, products and materials developed by {B} as part of the '
        "{service}.",
        '"Fees" means the charges payable by {A} for the {service} as set out in Schedule {sched}.',
        '"Specifications" means the technical and functional requirements for the {service} agreed in '
        "writing.",
        '"Confidential Information" means all information of a confidential nature disclosed by one party '
        "to the other.",
        '"Personnel" means the employees, officers and agents of a party.',
        '"Service Levels" means the performance standards set out in Schedule {sched}.',
        '"Statement of Work" means a document agreed by both parties describing a specific project.',
    ),
    "workpackage": (
        "{B} shall {verb} the {object} for the {dept} team of {A}.",
        "The deliverables for this work package are {deliv1}, {deliv2} and {deliv3}.",
        "Work under this work package will be carried out at {site}.",
        "The point of contact of {A} for this work package is {person}, {role}.",
        "{B} estimates that this work package will require approximately {n} person-days of effort.",
        "Progress on this work package shall be reported to {A} every {weekday}.",
    ),
    "service_level": (
        "{metric}: target {target}, {measure}.",
        "{metric} shall be at least {target}, {measure}.",
    ),
    "price_row": ("{item}: {price} per {unit}.", "{item} is charged at {price} per {unit}."),
    "heading:workpackage": ("Work Package {k}: {area}",),
    "heading:service_level": ("Service Levels: {area}",),
    "heading:price_row": ("Fee Schedule: {area}",),
    "heading:definitions": ("Definitions", "Defined Terms"),
    "heading:misc": ("Miscellaneous", "General"),
    "heading:governing_law": ("Governing Law", "Applicable Law", "Law and Jurisdiction"),
    "heading:term": ("Term", "Duration"),
    "heading:term_termination": ("Term and Termination",),
    "heading:services": ("Services", "Scope of Work"),
    "heading:fees_payment": ("Fees and Payment", "Payment Terms"),
    "heading:taxes": ("Taxes", "Taxation"),
    "heading:confidentiality": ("Confidentiality", "Confidential Information"),
    "heading:notices": ("Notices", "Giving of Notices"),
    "heading:indemnification": ("Indemnification", "Indemnities"),
    "heading:force_majeure": ("Force Majeure", "Force Majeure Events"),
    "heading:entire_agreement": ("Entire Agreement",),
    "heading:counterparts": ("Counterparts",),
    "heading:severability": ("Severability",),
    "heading:waiver": ("Waiver", "No Waiver"),
    "heading:relationship": ("Relationship of the Parties", "Independent Contractors"),
    "heading:authority": ("Authority", "Power and Authority"),
    "heading:compliance": ("Compliance with Laws",),
    "heading:data_protection": ("Data Protection",),
    "heading:amendments": ("Amendments", "Variation"),
    "heading:publicity": ("Publicity", "Announcements"),
    "heading:personnel": ("Personnel", "Staffing"),
    "heading:delivery_acceptance": ("Delivery and Acceptance",),
    "heading:termination_breach": ("Termination", "Termination for Breach"),
    "heading:dispute_escalation": ("Dispute Resolution", "Escalation"),
    "heading:interpretation": ("Interpretation",),
    "heading:security": ("Information Security",),
    "heading:cooperation": ("Further Assurance", "Cooperation"),
    "heading:non_compete": ("Non-Competition", "Restrictive Covenant"),
    "heading:exclusivity": ("Exclusivity", "Exclusive Appointment"),
    "heading:cap_on_liability": ("Limitation of Liability", "Liability Cap"),
    "heading:insurance": ("Insurance", "Insurance Obligations"),
    "heading:audit_rights": ("Audit", "Audit Rights"),
    "heading:anti_assignment": ("Assignment", "No Assignment"),
    "heading:change_of_control": ("Change of Control",),
    "heading:termination_for_convenience": ("Termination for Convenience",),
    "heading:minimum_commitment": ("Minimum Purchase", "Minimum Commitment"),
    "heading:warranty_duration": ("Warranty", "Product Warranty"),
    "heading:no_solicit_employees": ("Non-Solicitation", "No Hire"),
    "heading:non_disparagement": ("Non-Disparagement",),
    "heading:source_code_escrow": ("Source Code Escrow",),
    "heading:liquidated_damages": ("Liquidated Damages",),
    "heading:most_favored_nation": ("Most Favored Customer", "Price Parity"),
    "heading:third_party_beneficiary": ("Third-Party Beneficiaries", "Third Party Rights"),
    "heading:license_grant": ("License Grant", "Licence"),
    "heading:ip_ownership": ("Intellectual Property", "Ownership of Deliverables"),
}

_EVAL: dict[str, tuple] = {
    "title": ("{title}\n\nReference: {ref}", "{TITLE} ({ref})", "{title} - Execution Version"),
    "preamble": (
        'This {title} (this "Agreement"), dated {date}, is made by and among {a} and {b}.',
        "DATED {date}\n\nBETWEEN:\n\n{a}\n\nAND:\n\n{b}",
        "The parties to this {title} are {a} and {b}, and it takes effect on {date}.",
        "This agreement is concluded on {date} by and between the following parties: {a} and {b}.",
        'Contracting Parties\n\nName: {name1} ("{short1}")\nAddress: {addr1}\n\nName: {name2} ("{short2}")\n'
        "Address: {addr2}\n\nDate of Agreement: {date}",
        '{a} and {b} (together, the "Parties") have entered into this {title} as of {date}.',
        "This {title} sets out the terms agreed on {date} between {a} and {b}.",
        "Made this {date_ordinal} between {a}, on the one part, and {b}, on the other part.",
    ),
    "party_us": (
        "{name} (hereinafter {short_def}), a {entity} formed in {state}",
        "{name}, whose principal office is located at {address} (referred to as {short_def})",
        "{name}, a {state} {entity} (referred to as {short_def})",
        "{NAME} of {address} ({short_def})",
    ),
    "party_intl": (
        "{name}, registered in {country} under company number {regno}, whose registered office is at "
        "{address} ({short_def})",
        "{name} of {address} ({short_def})",
        "{NAME}, a company organised in {country} (hereinafter {short_def})",
    ),
    "party_person": (
        "{name} of {address} ({short_def}), acting in a personal capacity",
        "{name}, a private individual whose address is {address} (hereinafter {short_def})",
    ),
    "recital": (
        "Background: {A} requires {service} and has selected {B} to provide them.",
        "{B} carries on business as a provider of {service} and the {product}.",
        "The parties have agreed to record in writing the terms on which {B} will work for {A}.",
    ),
    "recital_close": ("It is agreed as follows:", "The parties therefore agree:"),
    "governing_law": (
        "The validity, interpretation and performance of this Agreement are subject to the law of {law}.",
        "{place} law governs this Agreement.",
        "Any dispute arising out of or relating to this Agreement shall be resolved under the laws of {law}.",
        "This Agreement and all claims relating to it shall be interpreted and enforced in accordance with "
        "the laws of {law}, without giving effect to any conflict-of-law provisions.",
        "The parties choose the laws of {law} to govern this Agreement.",
        "This Agreement takes effect as a contract made in {law} and its construction is governed by the "
        "law of that jurisdiction.",
        "Matters relating to the formation, performance and ending of this Agreement are governed by the "
        "laws applicable in {law}.",
        "Applicable law: the law of {law}.",
        "The law of {law} is the governing law of this Agreement.",
        "This Agreement shall be construed, and the rights of the parties determined, under the laws of "
        "{law}.",
        "{A} and {B} agree that this Agreement is to be governed by the domestic law of {law}, to the "
        "exclusion of the United Nations Convention on Contracts for the International Sale of Goods.",
        "This Agreement is governed by {place} law.",
    ),
    "forum": (
        "The courts sitting in {city} that hear commercial matters shall have sole authority over disputes "
        "under this Agreement, and each party submits to their jurisdiction.",
        "Each party consents to the personal jurisdiction of {courts} for any claim relating to this "
        "Agreement.",
        "Proceedings in connection with this Agreement may be brought only before {courts}, and each party "
        "submits to their jurisdiction.",
        "Disputes shall be referred to binding arbitration in {city}, and judgment on the award may be "
        "entered in any court having jurisdiction.",
        "{A} and {B} submit to the non-exclusive jurisdiction of {courts}.",
        "Any suit under this Agreement must be filed in {courts}, which the parties accept as a convenient "
        "forum.",
    ),
    "term_duration": (
        "This Agreement is effective from {start} and has a duration of {duration}.",
        "The Agreement will continue in effect for {duration} after {start}, subject to earlier termination "
        "as provided herein.",
        "This Agreement shall be in effect for an initial term of {duration} starting on {start}.",
        "This Agreement shall run for {duration} from {start}, after which it ends.",
        "Contract Period: {duration}, starting {start}.",
        "Subject to Section {sec}, this Agreement lasts for {duration} from {start}.",
    ),
    "term_date": (
        "This Agreement terminates automatically on {end_date} unless the parties agree in writing to "
        "extend it.",
        "The Agreement shall continue until {end_date}, on which date it will expire without further notice.",
        "The term of this Agreement runs from {start} through {end_date}.",
        "Unless the parties sign an extension, this Agreement expires at the close of business on "
        "{end_date}.",
    ),
    "term_combined": (
        "This Agreement has an initial term of {duration} and will thereafter be renewed automatically for "
        "consecutive {renewal} terms, unless either party gives the other written notice of non-renewal "
        "{notice} before the renewal date.",
        "The Agreement begins on {start}, runs for {duration}, and will then extend for successive {renewal} "
        "periods unless a party cancels by giving {notice_poss} notice.",
        "The term of this Agreement is {duration}, automatically extended by {renewal} at a time unless one "
        "party tells the other in writing {notice} before the scheduled end that it does not want an "
        "extension.",
    ),
    "renewal": (
        "At the end of the initial term, this Agreement will renew on its own for further {renewal} terms "
        "unless terminated by either party with {notice_poss} prior written notice.",
        "The term shall be extended automatically by {renewal} on each anniversary of {start} unless one "
        "party has informed the other in writing at least {notice} beforehand that it does not wish to "
        "extend.",
        "Either party may renew this Agreement for one additional period of {renewal} by written notice "
        "given {notice} before expiry.",
    ),
    "clause:non_compete": (
        (
            "{B} shall refrain from carrying on, or being concerned in, any business in competition with {A} "
            "within {territory} for {period} from the date of this Agreement.",
        ),
        (
            "Neither party may, for {period} after this Agreement ends, engage in activities that compete "
            "with the core business of the other party in {territory}.",
        ),
        (
            "As long as this Agreement is in effect, and for {period} thereafter, {B} will not act as a "
            "supplier, agent or partner of any competitor of {A} in {territory}.",
            "{B} acknowledges that this restriction is reasonable.",
        ),
        (
            "{B} undertakes that it will not set up or join a competing venture in {territory} within "
            "{period} of the date on which its services under this Agreement cease.",
        ),
    ),
    "clause:exclusivity": (
        ("{B} is granted the sole and exclusive right to resell the {product} within {territory}.",),
        ("{A} will source the {product} solely from {B} and from no other provider.",),
        ("{B} will act as the sole provider of {service} to {A} in {territory}.",),
        (
            "For {period} after the Effective Date, {A} agrees not to engage any third party other than {B} "
            "to provide {service}, making {B} its exclusive provider in {territory}.",
        ),
    ),
    "clause:cap_on_liability": (
        (
            "The cumulative liability of each party for any and all claims relating to this Agreement is "
            "capped at {cap}.",
        ),
        (
            "The liability of {B}, whether in contract, negligence or otherwise, shall in aggregate be "
            "limited to {cap}.",
        ),
        ("Under no circumstances will the total amount recoverable from {B} exceed {cap}.",),
        (
            "{A} agrees that the liability of {B} of every kind is subject to a ceiling of {cap}.",
            "That ceiling applies however the claim arises.",
        ),
    ),
    "clause:insurance": (
        ("{B} must hold {insurance_type} insurance of no less than {amount} for each claim.",),
        (
            "Throughout its performance of this Agreement, {B} agrees to procure and keep {insurance_type} "
            "coverage in the sum of {amount} with a reputable insurer.",
        ),
        (
            "{B} shall furnish {A} with evidence that it is insured against {insurance_type} risks up to "
            "{amount}.",
        ),
        (
            "Before starting work, {B} shall obtain {insurance_type} insurance with a limit of {amount}.",
            "{B} shall notify {A} of any cancellation of that insurance.",
        ),
    ),
    "clause:audit_rights": (
        (
            "{A}, or an independent auditor it appoints, may review the records of {B} {freq} to confirm "
            "that fees have been calculated correctly.",
        ),
        (
            "{B} grants {A} the right to carry out on-site inspections of its premises {freq}, subject to "
            "{notice_poss} advance notice.",
        ),
        (
            "{A} shall be entitled to audit the compliance of {B} with this Agreement {freq}.",
            "{B} shall cooperate fully with any such audit.",
        ),
        (
            "Records supporting every invoice shall be retained by {B} and may be examined by {A} on "
            "{notice_poss} written notice, {freq}.",
        ),
    ),
    "clause:anti_assignment": (
        (
            "No party shall assign or transfer this Agreement, or any interest in it, unless the other "
            "party has first agreed in writing.",
        ),
        (
            "{B} may not delegate the performance of its duties or assign its rights hereunder to a third "
            "party without the approval of {A}.",
        ),
        (
            "Any assignment of this Agreement by either party requires the written consent of the other, "
            "except that {A} may assign it to a successor to its entire business.",
        ),
        ("{A} may freely assign this Agreement; {B} requires the prior consent of {A} to do so.",),
    ),
    "clause:change_of_control": (
        (
            "Should {B} be acquired by, or merged into, another entity, {A} may end this Agreement upon "
            "{notice_poss} written notice.",
        ),
        (
            "{B} must inform {A} within {days} after any person obtains control of more than fifty percent "
            "of its voting shares.",
        ),
        ("A change of control of {B} shall entitle {A} to terminate this Agreement by notice.",),
        (
            "If a new person or group comes to control {B} through a sale of shares, {B} must obtain the "
            "consent of {A} for this Agreement to remain binding.",
        ),
    ),
    "clause:termination_for_convenience": (
        ("This Agreement may be terminated by {A} without cause upon {notice_poss} advance notice to {B}.",),
        (
            "Either party may bring this Agreement to an end at any time by giving the other {notice_poss} "
            "written notice, without needing to state a reason.",
        ),
        (
            "{A} reserves the right to cancel this Agreement for convenience, in whole or in part, on "
            "{notice_poss} notice.",
        ),
        ("{B} may terminate this Agreement for any reason by written notice of {notice}.",),
    ),
    "clause:minimum_commitment": (
        ("{A} agrees to order not fewer than the minimum volume of {min_qty}.",),
        ("Regardless of actual usage, {A} shall pay the minimum charge of {min_spend}.",),
        (
            "The minimum purchase obligation of {A} is {min_spend}.",
            "Any shortfall will be invoiced at the end of each period.",
        ),
        ("Each purchase order placed by {A} must be for at least the minimum quantity of {min_qty}.",),
    ),
    "clause:warranty_duration": (
        (
            "Each Deliverable is warranted to conform to its Specifications for a period of {wperiod} from "
            "the date of delivery.",
        ),
        (
            "The warranty of {B} against defects applies for {wperiod} from shipment.",
            "Claims under this warranty must be made in writing within that period.",
        ),
        (
            "{B} guarantees its workmanship for {wperiod}, and warrants that any defective work reported "
            "within that time will be corrected free of charge.",
        ),
        ("The {product} carry a warranty of {wperiod} starting on the date {A} first uses them.",),
    ),
    "clause:no_solicit_employees": (
        (
            "For {period} after this Agreement ends, neither party may directly or indirectly solicit the "
            "employees of the other.",
        ),
        (
            "{A} agrees that it will not offer employment to, or hire, any member of the team of {B} during "
            "the engagement and for {period} afterwards.",
        ),
        (
            "No party shall recruit staff from the other party within {period} following the completion of "
            "the {service}.",
        ),
        (
            "{B} shall not entice away or solicit any of the employees of {A} while performing the "
            "{service} and for {period} afterwards.",
        ),
    ),
    "clause:non_disparagement": (
        ("{A} and {B} each undertake not to disparage the other in any medium, including social media.",),
        ("{B} shall not say or publish anything derogatory about {A} or its affiliates.",),
        (
            "No party may make negative or disparaging comments about the business of the other party to "
            "any third party.",
        ),
        (
            "Both parties agree to avoid any statement that is defamatory of, or disparaging to, the other "
            "party.",
        ),
    ),
    "clause:source_code_escrow": (
        (
            "The source code for the Software shall be lodged with {agent} as escrow agent for the benefit "
            "of {A}.",
        ),
        (
            "{B} must deposit all source code for the Deliverables with {agent} and keep the deposit "
            "current.",
            "Release conditions include the bankruptcy of {B}.",
        ),
        (
            "An escrow of the source code will be maintained with {agent}, and {A} may require release if "
            "{B} discontinues the Software.",
        ),
        (
            "{B} agrees to enter into a source code escrow arrangement with {agent} within {days} of "
            "signature.",
        ),
    ),
    "clause:liquidated_damages": (
        ("Delay beyond the delivery date will entitle {A} to liquidated damages equal to {ld} per day.",),
        (
            "In the event of a breach of Section {sec}, {B} shall pay {A} the sum of {ld} as liquidated "
            "damages.",
        ),
        (
            "The parties agree that the damages of {A} from late completion would be difficult to measure, "
            "and so {B} will pay liquidated damages of {ld} per week of delay.",
        ),
        (
            "Should {B} miss a delivery deadline, it shall owe {A} liquidated damages of {ld} per day, up "
            "to the value of the order.",
        ),
    ),
    "clause:most_favored_nation": (
        (
            "{B} agrees that the fees payable by {A} will be at least as favourable as the fees {B} charges "
            "to any similarly situated customer.",
        ),
        (
            "Should {B} offer lower prices to another purchaser of similar volume, it shall promptly extend "
            "those lower prices to {A}.",
        ),
        ("{A} is entitled to most-favoured-nation treatment in respect of pricing and terms.",),
        (
            "No customer of {B} shall receive terms for the {service} that are more favourable than the "
            "terms of this Agreement.",
        ),
    ),
    "clause:third_party_beneficiary": (
        (
            "No third party is intended to benefit from, or shall have any right to enforce, any provision "
            "of this Agreement.",
        ),
        ("The customers of {A} are third party beneficiaries of Section {sec} and may rely on it directly.",),
        (
            "Except as expressly stated, this Agreement does not create rights enforceable by any person "
            "who is not a signatory.",
        ),
        ("Only {A} and {B} may enforce this Agreement; no other person is a beneficiary of it.",),
    ),
    "clause:license_grant": (
        ("{A} receives from {B} a {scope} licence to use the Software solely for its own operations.",),
        ("{B} hereby licenses the {product} to {A} on {scope} terms, for use at the sites of {A}.",),
        (
            "Under this Agreement, {A} may use, copy and modify the Materials pursuant to a {scope} license "
            "granted by {B}.",
        ),
        (
            "{B} grants {A} the right to use the Software under a {scope} licence for the number of users "
            "set out in the Order Form.",
        ),
    ),
    "clause:ip_ownership": (
        ("Ownership of all materials developed under this Agreement rests with {owner}.",),
        (
            "{owner} will be the owner of all intellectual property in the Materials from the moment they "
            "are created.",
        ),
        (
            "Any invention conceived by {other} in the course of the {service} becomes the property of "
            "{owner}.",
        ),
        ("{other} transfers to {owner} all rights in the work product as soon as it comes into existence.",),
    ),
    "filler:services": (
        "{B} agrees to deliver the {service} described in the relevant order form to {A}.",
        "The {service} will be carried out by suitably qualified staff in a timely and workmanlike manner.",
        "Where {A} needs additional work, the parties will agree the scope and price of that work in writing "
        "before it begins.",
        "{B} is responsible for providing the tools and facilities it needs to carry out the {service}.",
        "Order forms executed by both parties form part of this Agreement.",
    ),
    "filler:fees_payment": (
        "Invoices are payable by bank transfer within {days} of the invoice date.",
        "{B} will send {A} an itemised invoice at the end of each calendar month.",
        "Overdue sums accrue interest at {pct} per month from the due date until the date of payment.",
        "Unless stated otherwise, prices exclude sales tax and are quoted in {currency}.",
        "If {A} questions an invoice, it shall pay the undisputed part and the parties will settle the "
        "remainder promptly.",
    ),
    "filler:taxes": (
        "Fees are exclusive of VAT and similar taxes, which {A} will pay at the applicable rate.",
        "{B} remains responsible for all taxes on its own net income and payroll.",
        "Where withholding tax applies, {A} will provide {B} with a receipt evidencing the payment to the "
        "tax authority.",
        "Each party will bear the taxes that the law imposes on it in connection with this Agreement.",
    ),
    "filler:confidentiality": (
        "Neither party will reveal the confidential information of the other party to anyone except as this "
        "Agreement permits.",
        "Information that the recipient already knew, or developed independently, is not confidential "
        "information for this purpose.",
        "Confidential information may be shared with professional advisers who owe a duty of "
        "confidentiality.",
        "If disclosure is compelled by a regulator, the recipient must first tell the discloser so that it "
        "can seek protection.",
        "All confidential information, including copies, must be deleted or handed back once it is no longer "
        "needed.",
    ),
    "filler:notices": (
        "Any notice must be given in writing and sent to the registered address of the recipient or to the "
        "email address it has nominated.",
        "Notices for {B} should be addressed to {person}, {role}, with a copy to its legal department.",
        "A notice delivered by courier is treated as received when signed for.",
        "A party may update its contact details for notices at any time by written notice.",
    ),
    "filler:indemnification": (
        "{A} will hold {B} harmless from claims brought by third parties that result from a breach of this "
        "Agreement by {A}.",
        "A party seeking an indemnity must give the other party written details of the claim without undue "
        "delay.",
        "The party giving the indemnity may take control of the defence and settlement of the claim.",
        "Each party will take reasonable steps to mitigate any loss for which it seeks to be indemnified.",
    ),
    "filler:force_majeure": (
        "A party is not in breach if it is prevented from performing by circumstances outside its reasonable "
        "control.",
        "Examples of such circumstances include natural disasters, pandemics, acts of terrorism, strikes by "
        "third parties and failures of public utilities.",
        "The party affected must inform the other without delay and limit the effects as far as it can.",
        "Performance obligations are suspended for as long as the event prevents performance.",
    ),
    "filler:entire_agreement": (
        "This Agreement, together with its schedules, is the complete statement of the agreement of the "
        "parties on its subject.",
        "Any earlier proposals, negotiations or arrangements on the same subject are replaced by this "
        "Agreement.",
        "Neither party has entered into this Agreement in reliance on any representation not recorded in it.",
    ),
    "filler:counterparts": (
        "The parties may sign this Agreement in separate copies, which together form a single agreement.",
        "An electronically signed or scanned copy of this Agreement is as valid as a signed original.",
        "A party that signs a counterpart shall send it to the other party promptly.",
    ),
    "filler:severability": (
        "Should a clause of this Agreement prove unlawful, the rest of this Agreement is unaffected.",
        "Any unenforceable provision will be read down to the extent needed to make it enforceable.",
        "The parties will negotiate in good faith a lawful substitute for any provision found to be void.",
    ),
    "filler:waiver": (
        "A party does not give up a right merely by not enforcing it straight away.",
        "Waivers must be expressly stated in writing to be effective.",
        "Waiving one breach does not waive any other breach.",
    ),
    "filler:relationship": (
        "Nothing in this Agreement makes either party the agent, partner or employee of the other.",
        "{B} acts as an independent contractor in providing the {service}.",
        "Neither party may make commitments in the name of the other.",
    ),
    "filler:authority": (
        "Each signatory confirms that he or she is authorised to sign on behalf of the party for which he "
        "or she signs.",
        "Each party has obtained every internal approval needed to enter into this Agreement.",
        "Neither party is subject to any restriction that would prevent it from performing this Agreement.",
    ),
    "filler:compliance": (
        "Both parties will observe all statutes and regulations that apply to their activities under this "
        "Agreement.",
        "Neither party shall engage in any form of bribery or corruption.",
        "{B} is responsible for holding every permit and registration needed for the {service}.",
        "{B} shall comply with applicable export control and sanctions rules.",
    ),
    "filler:data_protection": (
        "{B} will handle any personal information it receives from {A} only on the documented instructions "
        "of {A}.",
        "Personal information must be protected by security measures appropriate to the risk.",
        "If personal information is lost or accessed without authority, {B} will tell {A} within {hours} "
        "hours.",
        "{B} shall not move personal information outside the country in which it was collected without the "
        "written approval of {A}.",
    ),
    "filler:amendments": (
        "This Agreement may be varied only by a written document executed by each party.",
        "Changes agreed by email are not binding unless confirmed in a signed document.",
    ),
    "filler:publicity": (
        "Public statements about the existence of this Agreement require the agreement of both parties.",
        "The trade marks of {A} may be displayed by {B} only as {A} approves in writing.",
    ),
    "filler:personnel": (
        "Staff working on the {service} must have the skills and experience needed for their roles.",
        "{B} will replace any team member whom {A} reasonably asks to be removed.",
        "{B} shall ensure that its staff follow the site rules of {A} while on its premises.",
    ),
    "filler:delivery_acceptance": (
        "{B} will ship each order to the location named by {A} in the purchase order.",
        "{A} may reject any item that does not meet the Requirements by giving written reasons.",
        "Rejected items must be corrected and resubmitted by {B} within {days}.",
        "Delivery dates are estimates unless the relevant order states that time is of the essence.",
    ),
    "filler:termination_breach": (
        "A party may end this Agreement by notice if the other party materially breaches it and does not "
        "put the breach right within {days} of being asked to do so.",
        "This Agreement may be ended at once by a party if the other party is unable to pay its debts as "
        "they fall due.",
        "When this Agreement ends, each party will give back any materials belonging to the other party.",
        "Ending this Agreement does not affect rights that arose before it ended.",
    ),
    "filler:dispute_escalation": (
        "Disagreements will first be raised at the monthly service review meeting.",
        "Any disagreement not settled at that meeting shall be escalated to the chief operating officer of "
        "each party.",
        "Nothing in this clause prevents a party from seeking urgent injunctive relief.",
    ),
    "filler:interpretation": (
        "The headings in this Agreement are inserted for ease of reading only.",
        'The words "including" and "include" are to be read without limitation.',
        "A reference to a person includes a company or other body.",
    ),
    "filler:security": (
        "{B} will keep its systems protected with up-to-date anti-malware software and firewalls.",
        "Passwords and access credentials issued by {A} must not be shared.",
        "{B} will carry out annual penetration testing of any system that stores data of {A}.",
    ),
    "filler:cooperation": (
        "Each party will sign any additional documents reasonably needed to carry this Agreement into "
        "effect.",
        "Representatives of both parties will hold a review meeting every {months} months.",
    ),
    "definition": (
        '"Working Day" means Monday to Friday, excluding public holidays in {city}.',
        '"Materials" means any reports, designs, data and other items that {B} produces for {A}.',
        '"Charges" means the amounts {A} must pay under the order forms.',
        '"Requirements" means the business and technical needs of {A} for the {service} as recorded in the '
        "order form.",
        '"Confidential Material" means non-public information disclosed by or for a party.',
        '"Staff" means the employees and contractors of a party.',
        '"Performance Standards" means the targets described in the order form.',
        '"Order Form" means an ordering document signed by both parties under this Agreement.',
    ),
    "workpackage": (
        "In this module, {B} will {verb} the {object} of {A} to support its {dept} function.",
        "Outputs of the module comprise {deliv1}, {deliv2}, and {deliv3}.",
        "Module activities take place mainly at {site}, with remote work where agreed.",
        "{person} ({role}) will coordinate the module on behalf of {A}.",
        "The planned effort for the module is {n} days of consultant time.",
        "A status summary for the module is due each {weekday} by noon.",
    ),
    "service_level": (
        "Target for {metric} is {target} ({measure}).",
        "{B} will achieve {target} for {metric}, {measure}.",
    ),
    "price_row": ("The rate for {item} is {price} per {unit}.", "{item} - {price} for each {unit}."),
    "heading:workpackage": ("Project Module {k} - {area}",),
    "heading:service_level": ("Performance Targets for {area}",),
    "heading:price_row": ("Rate Card ({area})",),
    "heading:definitions": ("Meaning of Terms", "Glossary"),
    "heading:misc": ("General Provisions", "Other Terms"),
    "heading:governing_law": ("Choice of Law", "Governing Law and Venue", "Controlling Law"),
    "heading:term": ("Term of Agreement", "Contract Period"),
    "heading:term_termination": ("Duration and Termination", "Period and Ending"),
    "heading:services": ("Provision of the Services", "Engagement"),
    "heading:fees_payment": ("Charges and Invoicing", "Price and Payment"),
    "heading:taxes": ("Tax Matters", "VAT and Other Taxes"),
    "heading:confidentiality": ("Non-Disclosure", "Protection of Confidential Material"),
    "heading:notices": ("Communications", "Notice Procedure"),
    "heading:indemnification": ("Indemnity", "Hold Harmless"),
    "heading:force_majeure": ("Events Beyond Control", "Excused Performance"),
    "heading:entire_agreement": ("Whole Agreement", "Complete Agreement"),
    "heading:counterparts": ("Execution in Counterparts", "Signature"),
    "heading:severability": ("Invalid Provisions", "Partial Invalidity"),
    "heading:waiver": ("Rights Not Waived", "Forbearance"),
    "heading:relationship": ("Status of the Parties", "No Partnership"),
    "heading:authority": ("Capacity", "Corporate Approvals"),
    "heading:compliance": ("Legal Compliance", "Anti-Bribery and Compliance"),
    "heading:data_protection": ("Personal Information", "Privacy"),
    "heading:amendments": ("Changes to this Agreement", "Modification"),
    "heading:publicity": ("Press Releases", "Use of Names"),
    "heading:personnel": ("Team Members", "Provider Staff"),
    "heading:delivery_acceptance": ("Shipment and Acceptance Testing", "Delivery"),
    "heading:termination_breach": ("Ending this Agreement", "Events of Default"),
    "heading:dispute_escalation": ("Resolving Disagreements", "Escalation Procedure"),
    "heading:interpretation": ("Construction of Terms", "Rules of Interpretation"),
    "heading:security": ("Security of Systems", "Security Measures"),
    "heading:cooperation": ("Further Acts", "Working Together"),
    "heading:non_compete": ("Covenant Not to Compete", "Competing Activities"),
    "heading:exclusivity": ("Exclusive Arrangement", "Sole Supply"),
    "heading:cap_on_liability": ("Limits on Liability", "Maximum Liability"),
    "heading:insurance": ("Insurance Requirements", "Insurance Cover"),
    "heading:audit_rights": ("Records and Inspection", "Verification"),
    "heading:anti_assignment": ("Transfer of Rights", "Assignment and Delegation"),
    "heading:change_of_control": ("Change in Control of a Party", "Corporate Transactions"),
    "heading:termination_for_convenience": ("Termination Without Cause", "Voluntary Termination"),
    "heading:minimum_commitment": ("Minimum Volumes", "Purchase Commitment"),
    "heading:warranty_duration": ("Warranties", "Quality Guarantee"),
    "heading:no_solicit_employees": ("Non-Solicitation of Staff", "Recruitment of Personnel"),
    "heading:non_disparagement": ("Public Statements", "Reputation"),
    "heading:source_code_escrow": ("Escrow", "Escrow of Code"),
    "heading:liquidated_damages": ("Delay Damages", "Agreed Damages"),
    "heading:most_favored_nation": ("Favourable Terms", "Best Pricing"),
    "heading:third_party_beneficiary": ("Rights of Third Parties", "No Third-Party Rights"),
    "heading:license_grant": ("Grant of Licence", "Right to Use"),
    "heading:ip_ownership": ("Proprietary Rights", "Ownership of Work Product"),
}

TEMPLATES: dict[str, dict[str, tuple]] = {"train": _TRAIN, "eval": _EVAL}
GENERIC_TOPICS = tuple(k.split(":", 1)[1] for k in _TRAIN if k.startswith("filler:"))


_KEYWORD_RES = {
    topic: re.compile(r"\b(?:" + "|".join(re.escape(k) for k in sorted(kws, key=len, reverse=True)) + ")")
    for topic, kws in TOPIC_KEYWORDS.items()
}


def mentions(text: str, topic: str) -> list[str]:
    """The keywords of `topic` that occur in `text` as word prefixes (case- and line-break-insensitive)."""
    flat = " ".join(text.split()).lower()
    found = set(_KEYWORD_RES[topic].findall(flat))
    if not found:
        return []
    return [kw for kw in TOPIC_KEYWORDS[topic] if kw in found or re.search(r"\b" + re.escape(kw), flat)]


def template_texts(family: str) -> set[str]:
    """Every wording template of a family, flattened (clause tuples give their sentences)."""
    out: set[str] = set()
    for entries in TEMPLATES[family].values():
        for entry in entries:
            out.update(entry if isinstance(entry, tuple) else (entry,))
    return out


# ---- public data classes -----------------------------------------------------------------------------------
@dataclass
class ContractQuestion:
    text: str  # the question (from the family's question pool for that field)
    field: str  # "governing_law" | "term" | "parties" | one of TOPICS
    gold: list[tuple[int, int]]  # char spans of the answering sentence(s); [] = absent, leave unanswered
    expected: str | None  # normalised value for inspection ("Delaware", "3 years"); None when absent


@dataclass
class ShortContract:
    text: str  # pages joined by "\f"
    pages: list[str]
    title: str
    questions: list[ContractQuestion]
    present: dict[str, bool]  # every clause topic (CLAUSE_TOPICS): is its clause in the text
    family: str
    seed: int
    gold: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # spans of every present clause


# ---- small renderers ---------------------------------------------------------------------------------------
# fmt: off
_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# fmt: on


def _words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _ONES[n % 10])
    rest = n % 100
    return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " and " + _words(rest))


def _qty(n: int, unit: str, style: str) -> str:
    """ "thirty (30) days" or "30 days" (always with digits, so the value is checkable)."""
    noun = unit if n == 1 else unit + "s"
    return f"{_words(n)} ({n}) {noun}" if style == "words" else f"{n} {noun}"


def _norm_qty(n: int, unit: str) -> str:
    return f"{n} {unit if n == 1 else unit + 's'}"


def _money(rng: random.Random, symbol: str, lo: int, hi: int, step: int) -> str:
    return f"{symbol}{rng.randrange(lo, hi + 1, step):,}"


def _date(rng: random.Random, year: int, style: str) -> str:
    month, day = rng.randrange(12), rng.randint(1, 28)
    return f"{_MONTHS[month]} {day}, {year}" if style == "us" else f"{day} {_MONTHS[month]} {year}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _roman(n: int) -> str:
    out = ""
    for value, sym in ((40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out += sym
            n -= value
    return out


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"


def _period(rng: random.Random, style: str) -> tuple[str, str]:
    n, unit = rng.choice(
        ((6, "month"), (12, "month"), (18, "month"), (24, "month"), (1, "year"), (2, "year"), (3, "year"))
    )
    return _qty(n, unit, style), _norm_qty(n, unit)


class _Slots(dict):
    """Template slots: the contract's fixed values, plus values drawn on first use (cached per sentence)."""

    def __init__(self, base: dict, ctx: _Ctx):
        super().__init__(base)
        self.ctx = ctx

    def __missing__(self, key: str) -> str:
        value = _dynamic(key, self.ctx, self)
        self[key] = value
        return value


def _dynamic(key: str, ctx: _Ctx, slots: dict) -> str:
    rng, style = ctx.rng, ctx.num_style
    if key == "days":
        return _qty(rng.choice((5, 7, 10, 14, 15, 20, 30, 45, 60)), "day", style)
    if key == "hours":
        return str(rng.choice((24, 48, 72)))
    if key == "months":
        return rng.choice(("two", "three", "six"))
    if key == "pct":
        return rng.choice(("1%", "1.5%", "2%", "0.75%"))
    if key == "currency":
        return ctx.currency_name
    if key == "sec":
        return str(rng.randint(2, 24))
    if key == "sched":
        return rng.choice(("A", "B", "C", "1", "2", "3"))
    if key == "person":
        return _person(rng)
    if key == "role":
        return rng.choice(_ROLES)
    if key == "city":
        return rng.choice(_US_CITIES)[0] if ctx.us else rng.choice(_INTL)[2][0]
    if key == "n":
        return str(rng.randint(8, 140))
    if key in ("deliv1", "deliv2", "deliv3"):
        d1, d2, d3 = rng.sample(_DELIVERABLES, 3)
        slots.update(deliv1=d1, deliv2=d2, deliv3=d3)
        return slots[key]
    if key == "verb":
        return rng.choice(_VERBS)
    if key == "object":
        return rng.choice(_OBJECTS)
    if key == "dept":
        return rng.choice(_DEPTS)
    if key == "site":
        city = rng.choice(_US_CITIES)[0] if ctx.us else rng.choice(rng.choice(_INTL)[2])
        return f"the {city} {rng.choice(_FACILITIES)}"
    if key == "weekday":
        return rng.choice(_WEEKDAYS)
    if key in ("metric", "target"):
        metric, targets = rng.choice(_METRICS)
        slots.update(metric=metric, target=rng.choice(targets))
        return slots[key]
    if key == "measure":
        return rng.choice(_MEASURES)
    if key in ("item", "unit"):
        item, unit = rng.choice(_PRICE_ITEMS)
        slots.update(item=item, unit=unit)
        return slots[key]
    if key == "price":
        return _money(rng, ctx.currency, 40, 2400, 5)
    if key == "notice":
        return _qty(rng.choice((30, 60, 90)), "day", style)
    if key == "notice_poss":
        return _qty(rng.choice((30, 60, 90, 120)), "day", style) + "'"
    raise KeyError(f"template slot {{{key}}} has no value")


# ---- contract context --------------------------------------------------------------------------------------
@dataclass
class _Ctx:
    rng: random.Random
    family: str
    tables: dict[str, tuple]
    base: dict  # fixed slots: A, B, service, product, ...
    num_style: str  # "words" ("thirty (30) days") or "digits" ("30 days")
    currency: str
    currency_name: str
    us: bool
    used: set = field(default_factory=set)

    def render(self, template: str, extra: dict | None = None) -> str:
        return template.format_map(_Slots({**self.base, **(extra or {})}, self))

    def pick(self, table: str, k: int) -> list[str]:
        """k templates of a table not yet used in this contract (table order kept: clauses read in order)."""
        pool = [t for t in self.tables[table] if t not in self.used]
        chosen = sorted(self.rng.sample(range(len(pool)), min(k, len(pool))))
        out = [pool[i] for i in chosen]
        self.used.update(out)
        return out

    def heading(self, topic: str) -> str:
        return self.rng.choice(self.tables[f"heading:{topic}"])


def _company(rng: random.Random, suffixes: tuple[str, ...]) -> tuple[str, str]:
    """(full name, first word) from the word lists."""
    r = rng.random()
    if r < 0.45:
        word = rng.choice(_COMPANY_WORDS)
        stem = f"{word} {rng.choice(_INDUSTRIES)}"
    elif r < 0.75:
        word = rng.choice(_NAME_HEADS) + rng.choice(_NAME_TAILS)
        stem = word if rng.random() < 0.5 else f"{word} {rng.choice(_INDUSTRIES)}"
    elif r < 0.9:
        a, b = rng.sample(_LAST_NAMES, 2)
        word = a
        stem = f"{a} & {b}" if rng.random() < 0.5 else f"{a} {b} {rng.choice(_INDUSTRIES)}"
    else:
        word = rng.choice(_COMPANY_WORDS)
        stem = f"{word} {rng.choice(_COMPANY_WORDS)} {rng.choice(_INDUSTRIES)}"
    suffix = rng.choice(suffixes)
    sep = ", " if suffix in ("Inc.",) and rng.random() < 0.5 else " "
    return f"{stem}{sep}{suffix}", word


def _address(rng: random.Random, kind: str, country: str = "", cities: tuple[str, ...] = ()) -> str:
    if kind == "us":
        city, state = rng.choice(_US_CITIES)
        return f"{rng.randint(10, 9800)} {rng.choice(_STREETS)}, {city}, {state} {rng.randint(10000, 99999)}"
    city = rng.choice(cities)
    if kind == "eu":
        return (
            f"{rng.choice(_EU_STREETS)} {rng.randint(1, 220)}, {rng.randint(1000, 99999)} {city}, {country}"
        )
    return f"{rng.randint(1, 400)} {rng.choice(_UK_STREETS)}, {city}"


@dataclass
class _Party:
    name: str  # as it should be extracted ("Northwind Logistics LLC")
    short: str  # the defined name used in the body ("Northwind" / "Supplier")
    rendered: str  # the party's description in the preamble
    address: str


def _make_party(ctx: _Ctx, role: str, person_ok: bool) -> _Party:
    rng, tables = ctx.rng, ctx.tables
    r = rng.random()
    fmt: dict[str, str]
    if person_ok and r < 0.35:
        name = _person(rng)
        short = name.split()[-1] if rng.random() < 0.4 else role
        address = _address(rng, "us") if ctx.us else _address(rng, "uk", cities=("London", "Leeds", "Dublin"))
        template, fmt = rng.choice(tables["party_person"]), {}
    elif ctx.us or r < 0.45:
        suffix_kind = rng.choice(
            (
                ("Inc.", "corporation"),
                ("Corp.", "corporation"),
                ("Corporation", "corporation"),
                ("LLC", "limited liability company"),
                ("L.P.", "limited partnership"),
            )
        )
        name, word = _company(rng, (suffix_kind[0],))
        short = word if rng.random() < 0.45 else role
        address = _address(rng, "us")
        template = rng.choice(tables["party_us"])
        fmt = {"state": rng.choice(_US_STATES_OF_INCORPORATION), "entity": suffix_kind[1]}
    else:
        country, suffixes, cities, kind = rng.choice(_INTL)
        name, word = _company(rng, suffixes)
        short = word if rng.random() < 0.45 else role
        address = _address(rng, kind, country, cities)
        template = rng.choice(tables["party_intl"])
        fmt = {"country": country, "regno": f"{rng.randint(100000, 99999999):08d}"}
    short_def = f'"{short}"' if short != role or rng.random() < 0.5 else f'the "{short}"'
    rendered = template.format(name=name, NAME=name.upper(), short_def=short_def, address=address, **fmt)
    return _Party(name, short, rendered, address)


# ---- sections ----------------------------------------------------------------------------------------------
Piece = tuple[str, "str | None"]  # (text, tag): tag names the clause topic a gold sentence answers


@dataclass
class _Section:
    kind: str
    heading: str | None
    paras: list[list[Piece]]  # paragraphs, each a list of sentences
    rank: float = 0.0

    def words(self) -> int:
        return sum(len(t.split()) for p in self.paras for t, _ in p) + len((self.heading or "").split())


# typical position of each section kind in a contract (0 = first); jittered per contract
_RANKS = {
    "definitions": -100.0, "services": 1, "workpackage": 2, "delivery_acceptance": 3, "fees_payment": 4,
    "price_row": 4.5, "taxes": 5, "term": 3.5, "service_level": 6, "personnel": 6.5, "exclusivity": 7,
    "minimum_commitment": 7.5, "most_favored_nation": 8, "license_grant": 8.5, "ip_ownership": 9,
    "confidentiality": 10, "data_protection": 10.5, "security": 11, "source_code_escrow": 11.5,
    "warranty_duration": 12, "indemnification": 13, "cap_on_liability": 13.5, "liquidated_damages": 14,
    "insurance": 14.5, "audit_rights": 15, "non_compete": 15.5, "no_solicit_employees": 16,
    "non_disparagement": 16.5, "termination_for_convenience": 17, "termination_breach": 17.5,
    "change_of_control": 18, "force_majeure": 19, "publicity": 19.5, "compliance": 20, "relationship": 20.5,
    "authority": 21, "notices": 22, "anti_assignment": 22.5, "governing_law": 24, "dispute_escalation": 24.5,
    "third_party_beneficiary": 25, "interpretation": 25.5, "amendments": 26, "waiver": 26.5,
    "severability": 27, "misc": 28, "entire_agreement": 100.0, "counterparts": 101.0,
}  # fmt: skip


def _paragraphs(sentences: list[Piece], rng: random.Random) -> list[list[Piece]]:
    """Group sentences into paragraphs of 1-3."""
    out: list[list[Piece]] = []
    i = 0
    while i < len(sentences):
        n = rng.choice((1, 1, 2, 2, 3))
        out.append(sentences[i : i + n])
        i += n
    return out


def _generic_section(ctx: _Ctx, topic: str) -> _Section | None:
    chosen = ctx.pick(f"filler:{topic}", ctx.rng.randint(2, 4))
    if not chosen:
        return None
    return _Section(topic, ctx.heading(topic), _paragraphs([(ctx.render(t), None) for t in chosen], ctx.rng))


def _definitions_section(ctx: _Ctx) -> _Section:
    chosen = ctx.pick("definition", ctx.rng.randint(3, len(ctx.tables["definition"])))
    return _Section("definitions", ctx.heading("definitions"), [[(ctx.render(t), None)] for t in chosen])


def _expandable_section(ctx: _Ctx, kind: str, k: int) -> _Section:
    """Generated schedule-like content (work packages, service levels, rate cards): endless filler."""
    rng = ctx.rng
    area = rng.choice(_AREAS)
    heading = ctx.render(rng.choice(ctx.tables[f"heading:{kind}"]), {"k": str(k), "area": area})
    templates = ctx.tables[kind]
    if kind == "workpackage":
        chosen = sorted(rng.sample(range(len(templates)), rng.randint(3, len(templates))))
        sentences = [(ctx.render(templates[i]), None) for i in chosen]
        return _Section(kind, heading, _paragraphs(sentences, rng))
    rows = [[(ctx.render(rng.choice(templates)), None)] for _ in range(rng.randint(3, 7))]
    return _Section(kind, heading, rows)


def _topic_values(ctx: _Ctx, topic: str) -> tuple[dict[str, str], dict[str, str]]:
    """Slot values of an askable clause and their normalised forms (the question's `expected`)."""
    rng, style, cur = ctx.rng, ctx.num_style, ctx.currency
    vals: dict[str, str] = {}
    norms: dict[str, str] = {}
    if topic in ("non_compete", "no_solicit_employees", "non_disparagement", "exclusivity"):
        vals["period"], norms["period"] = _period(rng, style)
        vals["territory"] = norms["territory"] = rng.choice(_TERRITORIES)
    if topic == "cap_on_liability":
        r = rng.random()
        if r < 0.5:
            vals["cap"] = norms["cap"] = _money(rng, cur, 100_000, 5_000_000, 50_000)
        elif r < 0.8:
            n = rng.choice((6, 12, 24))
            vals["cap"] = (
                f"the total fees paid by {ctx.base['A']} in the {_qty(n, 'month', style)} before the claim"
            )
            norms["cap"] = f"fees paid in {n} months"
        else:
            n = rng.choice((1, 2, 3))
            vals["cap"] = (
                "the annual fees" if n == 1 else f"{_words(n)} times the annual fees"
            ) + " under this Agreement"
            norms["cap"] = f"{n}x annual fees"
    if topic == "insurance":
        vals["amount"] = norms["amount"] = _money(rng, cur, 1_000_000, 10_000_000, 500_000)
        vals["insurance_type"] = rng.choice(_INSURANCE_TYPES)
    if topic == "audit_rights":
        vals["freq"] = norms["freq"] = rng.choice(_AUDIT_FREQUENCIES)
    if topic in ("termination_for_convenience", "change_of_control", "audit_rights"):
        n = rng.choice((10, 30, 60, 90, 180))
        vals["notice"], vals["notice_poss"] = _qty(n, "day", style), _qty(n, "day", style) + "'"
        norms["notice"] = norms["notice_poss"] = _norm_qty(n, "day")
    if topic == "minimum_commitment":
        per = rng.choice(("per month", "per calendar quarter", "per year", "in each contract year"))
        vals["min_qty"] = norms["min_qty"] = f"{rng.randrange(100, 20_000, 50):,} units {per}"
        vals["min_spend"] = norms["min_spend"] = f"{_money(rng, cur, 10_000, 2_000_000, 5_000)} {per}"
    if topic == "warranty_duration":
        n, unit = rng.choice(
            ((90, "day"), (180, "day"), (6, "month"), (12, "month"), (1, "year"), (2, "year"))
        )
        vals["wperiod"], norms["wperiod"] = _qty(n, unit, style), _norm_qty(n, unit)
    if topic == "source_code_escrow":
        vals["agent"] = norms["agent"] = (
            f"{rng.choice(_COMPANY_WORDS)} Escrow {rng.choice(('Inc.', 'Ltd', 'LLC'))}"
        )
    if topic == "liquidated_damages":
        vals["ld"] = norms["ld"] = _money(rng, cur, 250, 25_000, 250)
    if topic == "license_grant":
        vals["scope"] = norms["scope"] = rng.choice(_LICENSE_SCOPES)
    if topic == "ip_ownership":
        owner, other = (
            (ctx.base["A"], ctx.base["B"]) if rng.random() < 0.75 else (ctx.base["B"], ctx.base["A"])
        )
        vals.update(owner=owner, other=other)
        norms["owner"] = owner
    return vals, norms


def _clause_section(ctx: _Ctx, topic: str) -> tuple[_Section, str]:
    clause = ctx.rng.choice(ctx.tables[f"clause:{topic}"])
    vals, norms = _topic_values(ctx, topic)
    sentences = [(ctx.render(t, vals), topic) for t in clause]
    used = [k for k in norms if any("{" + k + "}" in t for t in clause)]
    expected = norms[used[0]] if used else TOPICS[topic]
    return _Section(topic, ctx.heading(topic), [sentences]), expected


def _governing_law(ctx: _Ctx) -> tuple[list[list[Piece]], str]:
    rng = ctx.rng
    place, law, city, kind, short_ok = rng.choice(_GL_PLACES)
    courts = f"the courts of {law}"
    if kind == "us" and rng.random() < 0.6:
        courts = f"the state and federal courts located in {city}, {place}"
    slots = {"place": place, "law": law, "city": city, "courts": courts}
    pool = [t for t in ctx.tables["governing_law"] if short_ok or "{place} law" not in t]
    paras: list[list[Piece]] = [[(ctx.render(rng.choice(pool), slots), "governing_law")]]
    if rng.random() < 0.55:
        forum = (ctx.render(rng.choice(ctx.tables["forum"]), slots), "governing_law")
        if rng.random() < 0.5:
            paras[0].append(forum)
        else:
            paras.append([forum])
    return paras, place


def _term(ctx: _Ctx, start_date: str, start_year: int, date_style: str) -> tuple[list[Piece], str, bool]:
    """The term clause sentences, the expected value and whether it renews."""
    rng, style = ctx.rng, ctx.num_style
    n, unit = rng.choice(
        (
            (1, "year"),
            (2, "year"),
            (3, "year"),
            (4, "year"),
            (5, "year"),
            (6, "month"),
            (12, "month"),
            (18, "month"),
            (24, "month"),
            (36, "month"),
            (48, "month"),
        )
    )
    rn, runit = rng.choice(((1, "year"), (1, "year"), (2, "year"), (12, "month"), (6, "month")))
    slots = {
        "duration": _qty(n, unit, style),
        "start": start_date if rng.random() < 0.35 else "the Effective Date",
        "end_date": _date(rng, start_year + rng.randint(1, 5), date_style),
        "renewal": _qty(rn, runit, style),
    }
    r = rng.random()
    if r < 0.45:
        templates, expected = [rng.choice(ctx.tables["term_duration"])], _norm_qty(n, unit)
        renews = rng.random() < 0.4
    elif r < 0.72:
        templates, expected = [rng.choice(ctx.tables["term_date"])], slots["end_date"]
        renews = rng.random() < 0.25
    else:
        templates, expected, renews = [rng.choice(ctx.tables["term_combined"])], _norm_qty(n, unit), True
    if renews and len(templates) == 1 and templates[0] not in ctx.tables["term_combined"]:
        templates.append(rng.choice(ctx.tables["renewal"]))
    return [(ctx.render(t, slots), "term") for t in templates], expected, renews


# ---- layout ------------------------------------------------------------------------------------------------
_STYLES = ("caps_block", "inline", "section_word", "article", "letters", "no_heading", "colon")


def _layout(sec: _Section, n: int, style: str) -> list[list[Piece]]:
    """Number a section and attach its heading; the heading stays with the first paragraph (no orphans)."""
    heading = sec.heading
    if heading is None and style not in ("no_heading",):
        style = "no_heading"
    out: list[list[Piece]] = []
    for k, para in enumerate(sec.paras, start=1):
        pieces: list[Piece] = []
        for j, piece in enumerate(para):
            if j:
                pieces.append((" ", None))
            pieces.append(piece)
        many = len(sec.paras) > 1
        if style == "caps_block":
            prefix = (f"{n}. {heading.upper()}\n\n" if k == 1 else "") + (f"{n}.{k} " if many else "")
        elif style == "inline":
            prefix = f"{n}. {heading}. " if k == 1 else ""
        elif style == "section_word":
            prefix = f"Section {n}. {heading}. " if k == 1 else f"{n}.{k} "
        elif style == "article":
            prefix = (f"ARTICLE {_roman(n)}\n{heading.upper()}\n\n" if k == 1 else "") + f"Section {n}.{k} "
        elif style == "letters":
            prefix = (f"{n}. {heading}\n\n" if k == 1 else "") + (
                f"({'abcdefghijklmnop'[k - 1]}) " if many else ""
            )
        elif style == "colon":
            prefix = f"{n}. {heading}: " if k == 1 else ""
        else:
            prefix = f"{n}. " if k == 1 else ""
        out.append([(prefix, None), *pieces] if prefix else pieces)
    return out


def _curly(text: str) -> str:
    return re.sub(r'"([^"\n]*)"', "\u201c\\1\u201d", text)


def _wrap(text: str, rng: random.Random) -> str:
    """Soft line breaks as in PDF text: some spaces become newlines (same length, so spans stay valid)."""
    chars = list(text)
    width = rng.randint(70, 100)
    col = 0
    for i, c in enumerate(chars):
        if c in "\n\f":
            col = 0
            continue
        col += 1
        nxt = chars[i + 1] if i + 1 < len(chars) else ""
        if c == " " and col >= width and nxt and (nxt.isalpha() or nxt in "\"'\u201c"):
            chars[i] = "\n"
            col = 0
    return "".join(chars)


def _breaks(words: list[int], targets: list[int]) -> list[int]:
    """Paragraph indices where pages 2..n start: page k ends near its share of the words (>= 1 paragraph)."""
    n, p = len(targets), len(words)
    scale = sum(words) / sum(targets)
    cum = [0]
    for w in words:
        cum.append(cum[-1] + w)
    out, prev, acc = [], 0, 0.0
    for k in range(1, n):
        acc += targets[k - 1] * scale
        lo, hi = prev + 1, p - (n - k)
        best = min(range(lo, hi + 1), key=lambda b: abs(cum[b] - acc))
        out.append(best)
        prev = best
    return out


# ---- the generator -----------------------------------------------------------------------------------------
def _draw_pages(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.45:
        return rng.randint(1, 4)
    if r < 0.8:
        return rng.randint(5, 12)
    return rng.randint(13, MAX_PAGES)


def short_contract(seed: int, family: str = "eval", pages: int | None = None) -> ShortContract:
    """One generated contract of `pages` pages (None: drawn over 1..30, skewed short), with its questions."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, not {family!r}")
    rng = random.Random(f"short-contract:{family}:{seed}")
    n_pages = _draw_pages(rng) if pages is None else pages
    if not 1 <= n_pages <= MAX_PAGES:
        raise ValueError(f"pages must be within 1..{MAX_PAGES}, not {pages}")
    targets = [rng.randint(350, 480) for _ in range(n_pages)]

    # the deal: type, parties, dates
    title, role_a, role_b, kind, forced = rng.choice(_AGREEMENT_TYPES)
    symbol, currency_name = rng.choice(_CURRENCIES)
    us = symbol == "$" or rng.random() < 0.3
    tables = TEMPLATES[family]
    ctx = _Ctx(rng, family, tables, {}, rng.choice(("words", "digits")), symbol, currency_name, us)
    quote = "curly" if rng.random() < 0.3 else "straight"
    party_a = _make_party(ctx, role_a, person_ok=False)
    party_b = _make_party(ctx, role_b, person_ok=kind == "services")
    while party_b.name == party_a.name or party_b.short == party_a.short:
        party_b = _make_party(ctx, role_b, person_ok=kind == "services")
    ctx.base.update(
        A=party_a.short, B=party_b.short, service=rng.choice(_SERVICES), product=rng.choice(_PRODUCTS),
        title=title, TITLE=title.upper(), ref=f"{rng.choice('BCDFHKLMNPRSTVX')}{rng.randint(1000, 99999)}",
    )  # fmt: skip
    date_style = "us" if us else rng.choice(("us", "uk"))
    year = rng.randint(2016, 2025)
    start_date = _date(rng, year, date_style)
    day = int(re.search(r"\b(\d{1,2})\b", start_date).group(1))
    month = next(m for m in _MONTHS if m in start_date)

    # which clauses are present
    has_gl, has_term = rng.random() < 0.8, rng.random() < 0.8
    others = [t for t in TOPICS if t not in forced]
    n_topics = rng.randint(len(forced), min(len(TOPICS) - 6, 2 + n_pages // 2))
    present_topics = list(forced) + rng.sample(others, max(0, n_topics - len(forced)))

    # head: title, preamble (gold for parties), recitals
    first, second = (party_a, party_b) if rng.random() < 0.6 else (party_b, party_a)
    preamble = ctx.render(
        rng.choice(tables["preamble"]),
        {
            "a": first.rendered, "b": second.rendered, "date": start_date,
            "date_ordinal": f"{_ordinal(day)} day of {month}, {year}",
            "name1": first.name, "name2": second.name, "short1": first.short, "short2": second.short,
            "addr1": first.address, "addr2": second.address,
        },
    )  # fmt: skip
    head: list[list[Piece]] = [[(ctx.render(rng.choice(tables["title"])), None)], [(preamble, "parties")]]
    if n_pages >= 2 and rng.random() < 0.6:
        for t in ctx.pick("recital", rng.randint(1, 3)):
            head.append([(ctx.render(t), None)])
        head.append([(ctx.render(rng.choice(tables["recital_close"])), None)])

    # body sections
    sections: list[_Section] = []
    expected: dict[str, str] = {}
    renews = False
    gl_in_misc = False
    if has_term:
        term_sents, expected["term"], renews = _term(ctx, start_date, year, date_style)
        if rng.random() < 0.4:
            breach = [(ctx.render(t), None) for t in ctx.pick("filler:termination_breach", rng.randint(1, 3))]
            paras = [term_sents, *_paragraphs(breach, rng)]
            sections.append(_Section("term", ctx.heading("term_termination"), paras))
        else:
            sections.append(_Section("term", ctx.heading("term"), [term_sents]))
    if has_gl:
        gl_paras, expected["governing_law"] = _governing_law(ctx)
        gl_in_misc = rng.random() < 0.35
        if not gl_in_misc:
            sections.append(_Section("governing_law", ctx.heading("governing_law"), gl_paras))
    for topic in present_topics:
        sec, expected[topic] = _clause_section(ctx, topic)
        sections.append(sec)
    if gl_in_misc or rng.random() < 0.25:
        misc_topics = rng.sample(
            ("waiver", "severability", "amendments", "interpretation", "counterparts"), 3
        )
        sents = [(ctx.render(t), None) for mt in misc_topics for t in ctx.pick(f"filler:{mt}", 1)]
        paras = _paragraphs(sents, rng)
        if gl_in_misc:
            paras.insert(rng.randint(0, len(paras)), [p for para in gl_paras for p in para])
        sections.append(_Section("misc", ctx.heading("misc"), paras))

    budget = sum(targets) - sum(len(t.split()) for p in head for t, _ in p)
    words = sum(s.words() for s in sections)
    if n_pages >= 3 and rng.random() < 0.6:
        sections.append(_definitions_section(ctx))
        words += sections[-1].words()
    generic = list(GENERIC_TOPICS)
    rng.shuffle(generic)
    for topic in generic:
        if words >= budget:
            break
        sec = _generic_section(ctx, topic)
        if sec is not None:
            sections.append(sec)
            words += sec.words()
    counters = {"workpackage": 0, "service_level": 0, "price_row": 0}
    while words < budget:
        kind_ = rng.choice(("workpackage", "workpackage", "service_level", "price_row"))
        counters[kind_] += 1
        sections.append(_expandable_section(ctx, kind_, counters[kind_]))
        words += sections[-1].words()

    # order: typical position plus wide jitter (so answers sit anywhere), definitions first, boilerplate last
    for sec in sections:
        base = _RANKS.get(sec.kind, rng.uniform(0, 28))
        sec.rank = base if abs(base) >= 100 else base + rng.gauss(0, 7)
    sections.sort(key=lambda s: s.rank)

    style = rng.choice(_STYLES)
    paragraphs = list(head)
    for i, sec in enumerate(sections, start=1):
        paragraphs.extend(_layout(sec, i, style))
    while len(paragraphs) < n_pages:  # tiny documents: never fewer paragraphs than pages
        counters["price_row"] += 1
        paragraphs.extend(
            _layout(_expandable_section(ctx, "price_row", counters["price_row"]), len(sections) + 1, style)
        )

    return _assemble(
        paragraphs, targets, rng, ctx, quote, title, family, seed, expected, renews, present_topics,
        has_gl, has_term, [party_a.name, party_b.name] if first is party_a else [party_b.name, party_a.name],
    )  # fmt: skip


def _assemble(
    paragraphs: list[list[Piece]],
    targets: list[int],
    rng: random.Random,
    ctx: _Ctx,
    quote: str,
    title: str,
    family: str,
    seed: int,
    expected: dict[str, str],
    renews: bool,
    present_topics: list[str],
    has_gl: bool,
    has_term: bool,
    party_names: list[str],
) -> ShortContract:
    """Paginate, add footers, compute gold spans, and ask the questions."""
    if quote == "curly":
        paragraphs = [[(_curly(t), tag) for t, tag in p] for p in paragraphs]
    n_pages = len(targets)
    words = [sum(len(t.split()) for t, _ in p) for p in paragraphs]
    starts = [0, *_breaks(words, targets), len(paragraphs)] if n_pages > 1 else [0, len(paragraphs)]
    footer = rng.choice(_FOOTERS) if rng.random() < 0.7 else ""
    wrap = rng.random() < 0.3

    pages: list[str] = []
    spans: dict[str, list[tuple[int, int]]] = {}
    pos = 0
    for k in range(n_pages):
        chunks: list[str] = []
        for pi in range(starts[k], starts[k + 1]):
            if chunks:
                chunks.append("\n\n")
            for text, tag in paragraphs[pi]:
                if tag is not None:
                    offset = pos + sum(len(c) for c in chunks)
                    spans.setdefault(tag, []).append((offset, offset + len(text)))
                chunks.append(text)
        if footer:
            chunks.append("\n\n" + footer.format(i=k + 1, n=n_pages, title=title, ref=ctx.base["ref"]))
        page = "".join(chunks)
        pages.append(page)
        pos += len(page) + len(PAGE_BREAK)
    text = PAGE_BREAK.join(pages)
    if wrap:
        text = _wrap(text, rng)
        pages = text.split(PAGE_BREAK)
    spans = {k: sorted(v) for k, v in spans.items()}

    present = {t: False for t in CLAUSE_TOPICS}
    present.update({"parties": True, "governing_law": has_gl, "term": has_term})
    present.update({t: True for t in present_topics})

    qs: list[ContractQuestion] = []

    def ask(field_key: str, topic: str, value: str | None) -> None:
        gold = spans.get(topic, []) if present[topic] else []
        qs.append(
            ContractQuestion(
                rng.choice(contract_questions.field_questions(field_key, family)), topic, gold, value
            )
        )

    ask("Parties", "parties", "; ".join(party_names))
    ask("Governing Law", "governing_law", expected.get("governing_law"))
    term_field = "Renewal Term" if (renews or not has_term) and rng.random() < 0.4 else "Expiration Date"
    ask(term_field, "term", expected.get("term"))
    # present topics are asked too (1-3 of them), so a topic's question alone never implies "absent"
    for topic in rng.sample(present_topics, min(len(present_topics), rng.randint(1, 3))):
        ask(TOPICS[topic], topic, expected[topic])
    absent = [t for t in TOPICS if not present[t]]
    for topic in rng.sample(absent, min(len(absent), rng.randint(2, 3))):
        ask(TOPICS[topic], topic, None)
    rng.shuffle(qs)
    return ShortContract(text, pages, title, qs, present, family, seed, spans)


def contract_set(n: int, family: str, seed: int = 0) -> list[ShortContract]:
    """n contracts of one family, pages drawn over 1..30 (skewed short); c == `short_contract(c.seed)`."""
    rng = random.Random(f"contract-set:{family}:{seed}")
    seeds = rng.sample(range(2**31), n)
    return [short_contract(s, family) for s in seeds]
