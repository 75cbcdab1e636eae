"""Deterministic seed data of the sandbox: one invented English apprenticeship provider.

Northgate Training Ltd (Leeds) runs apprenticeship standards and regulated qualifications for
employers across the North and the Midlands. Everything here is plain data and pure functions: no
database, no randomness, no clock. Every identifier is a UUID5 of a fixed namespace and a
``"<kind>:<key>"`` name, lowercase, so two fresh sandboxes hand out the same UUIDs and tests, docs
and examples may quote them.

Names, addresses, e-mails and phone numbers are invented: e-mails of learners use the reserved
``example.*`` domains and phone numbers the ranges Ofcom keeps for drama (0113 496 0xxx, 07700
900xxx), so nothing here reaches a real person. QANs and Ofqual unit numbers have the real formats
but are not claimed to be the real numbers of these titles.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

#: The project's fixed UUID5 namespace. Changing it changes every seeded UUID.
NAMESPACE = uuid.UUID("3b7f4c2e-8d1a-5e6f-9a0b-1c2d3e4f5a6b")

PROVIDER_NAME = "Northgate Training Ltd"
PROVIDER_DOMAIN = "northgate-training.co.uk"

MANDATORY = True
OPTIONAL = False


def stable_uuid(kind: str, key: str) -> str:
    """The seeded UUID of a ``kind`` of record (``course``, ``unit``, ...) with natural ``key``."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


# ---------------------------------------------------------------------------------------------
# Courses, units and outcomes


@dataclass(frozen=True)
class UnitSeed:
    reference: str
    name: str
    mandatory: bool
    outcomes: tuple[str, ...]


@dataclass(frozen=True)
class CourseSeed:
    #: Natural key: the standard's ST code or the qualification's QAN.
    key: str
    name: str
    level: str
    kind: str  # "standard" | "qualification"
    qan: str
    units: tuple[UnitSeed, ...]
    active: bool = True


def _u(reference: str, name: str, mandatory: bool, *outcomes: str) -> UnitSeed:
    return UnitSeed(reference, name, mandatory, outcomes)


COURSES: tuple[CourseSeed, ...] = (
    CourseSeed(
        "ST0070", "Business Administrator Level 3 (ST0070)", "3", "standard", "",
        (
            _u("U1", "Organisational purpose and structure", MANDATORY,
               "Describe the organisation's purpose, activities, aims and values",
               "Explain the organisation's structure and how its functions work together",
               "Identify the organisation's key stakeholders and their needs"),
            _u("U2", "Business communication", MANDATORY,
               "Produce accurate business documents to the house style",
               "Choose appropriate communication channels for different audiences",
               "Explain how to handle sensitive and confidential information"),
            _u("U3", "IT systems and records", MANDATORY,
               "Use office software to produce and manage documents and spreadsheets",
               "Explain the organisation's data protection and information security procedures",
               "Maintain records and files in line with retention policies"),
            _u("U4", "Stakeholder and customer relationships", MANDATORY,
               "Build positive relationships with internal and external stakeholders",
               "Handle enquiries and complaints within agreed procedures",
               "Explain how to manage conflicting priorities from stakeholders"),
            _u("U5", "Project and process management", MANDATORY,
               "Describe the principles of project planning and monitoring",
               "Contribute to a project using appropriate tools and techniques",
               "Review a business process and recommend improvements"),
            _u("U6", "Regulation and policy", MANDATORY,
               "Explain the legislation and regulation relevant to the organisation",
               "Apply organisational policies, including health and safety and equality",
               "Describe how to escalate a breach of policy"),
            _u("U7", "Meeting and event administration", OPTIONAL,
               "Plan and organise a meeting or event to a brief",
               "Produce agendas, minutes and action logs",
               "Evaluate the success of a meeting or event"),
            _u("EPA", "End-point assessment preparation", MANDATORY,
               "Compile a portfolio of evidence mapped to the standard",
               "Prepare a project presentation for the end-point assessment",
               "Complete a mock professional discussion"),
        ),
    ),
    CourseSeed(
        "ST0072", "Customer Service Practitioner Level 2 (ST0072)", "2", "standard", "",
        (
            _u("U1", "Knowing your customers", MANDATORY,
               "Identify internal and external customers and their needs",
               "Explain how customer expectations can change",
               "Describe the organisation's customer service offer"),
            _u("U2", "Understanding the organisation", MANDATORY,
               "Describe the organisation's vision, values and service standards",
               "Explain how the organisation's reputation affects customer loyalty"),
            _u("U3", "Meeting regulations and legislation", MANDATORY,
               "Explain data protection rules for handling customer information",
               "Follow health and safety procedures when dealing with customers"),
            _u("U4", "Communication and interpersonal skills", MANDATORY,
               "Use effective questioning and active listening",
               "Adapt communication style to the customer and the situation",
               "Handle challenging conversations calmly and professionally"),
            _u("U5", "Dealing with complaints", OPTIONAL,
               "Follow the organisation's complaints procedure",
               "Identify the causes of a complaint and propose a resolution",
               "Record the outcome of a complaint accurately"),
            _u("U6", "Digital customer service", OPTIONAL,
               "Respond to customers through digital channels",
               "Explain the risks of social media in customer service"),
        ),
    ),
    CourseSeed(
        "ST0795", "Data Technician Level 3 (ST0795)", "3", "standard", "",
        (
            _u("K1-K4", "Data sources and collection", MANDATORY,
               "Identify sources of data and describe their structure",
               "Collect and extract data from multiple sources",
               "Explain the importance of data quality"),
            _u("K5-K6", "Data legislation and ethics", MANDATORY,
               "Explain the UK GDPR and the Data Protection Act 2018",
               "Describe the ethical considerations in the use of data"),
            _u("S1-S3", "Data cleansing and validation", MANDATORY,
               "Audit a data set for completeness and accuracy",
               "Cleanse and format data using appropriate tools",
               "Document validation rules and their results"),
            _u("S4-S6", "Data analysis", MANDATORY,
               "Apply descriptive statistics to a data set",
               "Identify trends and patterns in data",
               "Test a hypothesis using the data available"),
            _u("S7-S9", "Data visualisation and reporting", MANDATORY,
               "Select charts appropriate to the data and the audience",
               "Build a dashboard that meets user requirements",
               "Present findings and recommendations to stakeholders"),
            _u("S10", "Databases and SQL", OPTIONAL,
               "Write SQL queries that select, filter and join data",
               "Explain the principles of relational database design"),
            _u("S11", "Spreadsheet modelling", OPTIONAL,
               "Use formulas, look-ups and pivot tables to analyse data",
               "Build a simple forecasting model"),
        ),
    ),
    CourseSeed(
        "ST0384", "Team Leader or Supervisor Level 3 (ST0384)", "3", "standard", "",
        (
            _u("U1", "Leading people", MANDATORY,
               "Explain different leadership styles and when to use them",
               "Motivate a team to achieve its objectives",
               "Support the wellbeing of team members"),
            _u("U2", "Managing people", MANDATORY,
               "Allocate work and agree objectives with team members",
               "Monitor performance and give constructive feedback",
               "Explain the organisation's HR policies, including absence and discipline"),
            _u("U3", "Building relationships", MANDATORY,
               "Build trust with the team and wider stakeholders",
               "Manage conflict within the team"),
            _u("U4", "Communication", MANDATORY,
               "Chair a team meeting and agree actions",
               "Communicate organisational change to the team"),
            _u("U5", "Operational management", MANDATORY,
               "Plan and organise the team's work to meet targets",
               "Implement a change to an operational process",
               "Explain how to manage risk and resources"),
            _u("U6", "Project management", OPTIONAL,
               "Plan a small project using appropriate tools",
               "Monitor progress and report to stakeholders"),
            _u("U7", "Finance", OPTIONAL,
               "Explain the budgeting process in the organisation",
               "Monitor spending against a budget"),
        ),
    ),
    # Version 1.0 of the standard, closed to new starts: LA keeps it but marks it inactive.
    CourseSeed(
        "ST0116", "Software Developer Level 4 (ST0116)", "4", "standard", "",
        (
            _u("U1", "Software development lifecycle", MANDATORY,
               "Describe the stages of the software development lifecycle",
               "Compare waterfall and agile methodologies",
               "Explain the role of version control in team development"),
            _u("U2", "Designing software", MANDATORY,
               "Interpret and implement a design specification",
               "Use UML or a similar notation to model a solution"),
            _u("U3", "Writing good quality code", MANDATORY,
               "Write clean, maintainable code that follows coding standards",
               "Use data structures and algorithms appropriately",
               "Refactor code to improve its quality"),
            _u("U4", "Testing", MANDATORY,
               "Write unit tests for a component",
               "Explain the types of testing and when each is used",
               "Debug and fix defects found in testing"),
            _u("U5", "Security and data", MANDATORY,
               "Apply secure coding practices",
               "Explain common vulnerabilities such as injection and cross-site scripting"),
            _u("U6", "Deployment and operation", OPTIONAL,
               "Deploy an application using a build pipeline",
               "Describe how software is monitored in production"),
        ),
        active=False,
    ),
    # The care standards carry a regulated diploma, so LA holds the diploma's QAN on the course.
    CourseSeed(
        "ST0005", "Adult Care Worker Level 2 (ST0005)", "2", "standard", "603/4771/X",
        (
            _u("J/616/6347", "Communication in care settings", MANDATORY,
               "Identify the different reasons people communicate",
               "Explain how communication affects relationships in an adult care setting",
               "Describe how to reduce barriers to communication",
               "Explain how to access extra support to help individuals communicate"),
            _u("L/616/6348", "Handle information in care settings", MANDATORY,
               "Describe the legislation on recording, storing and sharing information",
               "Keep records that are up to date, complete, accurate and legible"),
            _u("R/616/6349", "Personal development in care settings", MANDATORY,
               "Describe the duties and responsibilities of own work role",
               "Reflect on own work activities",
               "Agree a personal development plan"),
            _u("H/616/6350", "Implement person-centred approaches in care settings", MANDATORY,
               "Define person-centred values",
               "Find out an individual's history, preferences, wishes and needs",
               "Explain the importance of establishing consent when providing care",
               "Support an individual's right to make choices"),
            _u("K/616/6351", "Equality, diversity, inclusion and human rights", MANDATORY,
               "Explain what is meant by diversity, equality, inclusion and discrimination",
               "Interact with individuals in a way that respects their beliefs and culture"),
            _u("M/616/6352", "Health, safety and wellbeing in care settings", MANDATORY,
               "Identify legislation relating to health and safety in a care setting",
               "Describe practices that help to prevent and control infection",
               "Use safe moving and positioning techniques",
               "Explain how to respond to accidents and sudden illness"),
            _u("T/616/6353", "Safeguarding and protection in care settings", MANDATORY,
               "Define the types of abuse",
               "Explain the actions to take if abuse is suspected",
               "Identify the national and local context of safeguarding"),
            _u("A/616/6354", "Support individuals with dementia", OPTIONAL,
               "Describe the causes and types of dementia",
               "Support a person with dementia to keep their independence"),
            _u("F/616/6355", "Support individuals to eat and drink", OPTIONAL,
               "Establish with an individual the food and drink they wish to have",
               "Support the individual to eat and drink in a way that respects their dignity"),
            _u("J/616/6356", "Administer medication to individuals", OPTIONAL,
               "Describe the legislation and guidance on medication in social care",
               "Prepare for the administration of medication",
               "Record the administration of medication"),
        ),
    ),
    CourseSeed(
        "ST0006", "Lead Adult Care Worker Level 3 (ST0006)", "3", "standard", "603/4772/0",
        (
            _u("Y/616/6302", "Promote communication in care settings", MANDATORY,
               "Explain how to meet the communication and language needs of individuals",
               "Support the use of communication technologies and aids",
               "Explain how to overcome barriers to communication"),
            _u("D/616/6303", "Promote personal development in care settings", MANDATORY,
               "Evaluate own knowledge, understanding and skills against standards",
               "Use reflective practice to improve own performance",
               "Review a personal development plan with others"),
            _u("H/616/6304", "Promote person-centred approaches", MANDATORY,
               "Use an individual's care plan to plan and deliver care",
               "Promote active participation",
               "Support the individual's wellbeing and independence"),
            _u("K/616/6305", "Promote equality and inclusion", MANDATORY,
               "Explain how legislation and codes of practice promote equality",
               "Challenge discrimination in a way that promotes change"),
            _u("M/616/6306", "Promote health, safety and wellbeing", MANDATORY,
               "Carry out risk assessments and act on the results",
               "Explain procedures for responding to accidents and sudden illness",
               "Monitor and maintain infection prevention and control"),
            _u("T/616/6307", "Responsibilities of a lead care worker", MANDATORY,
               "Explain how to work in partnership with others",
               "Manage conflict and dilemmas in working relationships"),
            _u("A/616/6308", "Lead and mentor other workers", OPTIONAL,
               "Plan and deliver an induction for a new worker",
               "Give feedback and support to mentees"),
            _u("F/616/6309", "Understand mental health conditions", OPTIONAL,
               "Describe the main types of mental ill health",
               "Explain the impact of mental ill health on individuals and families"),
            _u("R/616/6310", "Support end of life care", OPTIONAL,
               "Explain the legislation relevant to end of life care",
               "Support the individual and others to express wishes and preferences"),
        ),
    ),
    CourseSeed(
        "ST0213", "Hairdressing Professional Level 2 (ST0213)", "2", "standard", "",
        (
            _u("U1", "Consult and advise clients", MANDATORY,
               "Identify factors that may limit or affect services",
               "Agree services and outcomes with the client",
               "Carry out tests to determine suitability for services"),
            _u("U2", "Shampoo, condition and treat the hair and scalp", MANDATORY,
               "Choose products suited to the hair and scalp condition",
               "Use massage techniques that meet the needs of the client"),
            _u("U3", "Cut hair using a range of techniques", MANDATORY,
               "Create a variety of looks using cutting techniques",
               "Establish and follow accurate cutting guidelines",
               "Cross-check the cut to ensure accurate balance and shape"),
            _u("U4", "Style and finish hair", MANDATORY,
               "Blow dry hair into shape",
               "Set and dress hair",
               "Use heated styling equipment safely"),
            _u("U5", "Colour and lighten hair", MANDATORY,
               "Apply permanent, semi-permanent and quasi-permanent colour",
               "Lighten hair using foils and full head techniques",
               "Explain how to resolve basic colouring problems"),
            _u("U6", "Health and safety in the salon", MANDATORY,
               "Follow the salon's health and safety procedures",
               "Explain the COSHH requirements for salon products"),
            _u("U7", "Barbering: cut facial hair", OPTIONAL,
               "Cut beards and moustaches to maintain their shape",
               "Explain how to minimise the risk of cross-infection"),
        ),
    ),
    CourseSeed(
        "ST0002", "Accounting/Finance Assistant Level 2 (ST0002)", "2", "standard", "",
        (
            _u("U1", "Introduction to bookkeeping", MANDATORY,
               "Process customer and supplier transactions",
               "Reconcile the sales and purchases ledgers",
               "Explain the double-entry bookkeeping system"),
            _u("U2", "Principles of bookkeeping controls", MANDATORY,
               "Use control accounts and journals",
               "Reconcile a bank statement with the cash book"),
            _u("U3", "Principles of costing", MANDATORY,
               "Classify costs by element, nature and function",
               "Calculate the cost of inventory using FIFO and AVCO"),
            _u("U4", "The business environment", MANDATORY,
               "Explain the principles of contract law",
               "Describe the legal and regulatory environment of a business",
               "Explain the importance of ethics and sustainability in finance"),
            _u("U5", "Using accounting software", OPTIONAL,
               "Set up a business on accounting software",
               "Process transactions and produce reports"),
            _u("U6", "Payroll administration", OPTIONAL,
               "Calculate gross to net pay, including PAYE and National Insurance",
               "Explain the employer's duties for automatic enrolment into a pension"),
        ),
    ),
    CourseSeed(
        "601/7160/5",
        "Pearson BTEC Level 3 National Extended Diploma in Business", "3", "qualification",
        "601/7160/5",
        (
            _u("J/508/0485", "Exploring Business", MANDATORY,
               "Explore the features of different businesses",
               "Examine the environment in which businesses operate",
               "Examine the impact of innovation and enterprise on businesses"),
            _u("L/508/0486", "Developing a Marketing Campaign", MANDATORY,
               "Analyse marketing data to support a campaign",
               "Develop a rationale and a plan for a marketing campaign"),
            _u("R/508/0487", "Personal and Business Finance", MANDATORY,
               "Explore the importance of managing personal finance",
               "Prepare and analyse financial statements",
               "Explain the sources of business finance"),
            _u("Y/508/0488", "Managing an Event", MANDATORY,
               "Explore the role of an event organiser",
               "Investigate the feasibility of a proposed event",
               "Stage and manage an event",
               "Reflect on the running of the event"),
            _u("D/508/0489", "International Business", MANDATORY,
               "Examine the context of international business",
               "Investigate the impact of the global environment on international business"),
            _u("R/508/0490", "Principles of Management", MANDATORY,
               "Examine the functions of management",
               "Investigate how organisations manage their resources"),
            _u("Y/508/0491", "Business Decision Making", MANDATORY,
               "Use data to inform business decisions",
               "Use software tools to support decision making"),
            _u("D/508/0492", "Customer Service", OPTIONAL,
               "Explore how effective customer service contributes to business success",
               "Investigate methods used to improve customer service"),
            _u("H/508/0493", "Recruitment and Selection Process", OPTIONAL,
               "Examine how effective recruitment contributes to business success",
               "Take part in a recruitment activity"),
            _u("K/508/0494", "Creative Promotion", OPTIONAL,
               "Explore the role of promotion in marketing",
               "Develop a creative promotional campaign"),
            _u("M/508/0495", "Digital Marketing", OPTIONAL,
               "Examine digital marketing channels",
               "Plan and evaluate a digital marketing campaign"),
            _u("T/508/0496", "Human Resources", OPTIONAL,
               "Explore the role of human resources in an organisation",
               "Examine how employee performance is managed"),
        ),
    ),
    CourseSeed(
        "600/6982/5",
        "City & Guilds Level 2 Diploma in Professional Cookery", "2", "qualification",
        "600/6982/5",
        (
            _u("A/507/1201", "Food safety in catering", MANDATORY,
               "Explain how to keep self clean and hygienic",
               "Describe how to keep the work area and equipment clean and tidy",
               "Explain the importance of temperature control for food safety"),
            _u("F/507/1202", "Health and safety in catering and hospitality", MANDATORY,
               "Identify hazards in catering and hospitality environments",
               "Explain the procedures for reporting accidents and near misses"),
            _u("J/507/1203", "Healthier foods and special diets", MANDATORY,
               "Explain the principles of a balanced diet",
               "Describe the dietary needs of people with allergies and intolerances"),
            _u("L/507/1204", "Prepare and cook stocks, soups and sauces", MANDATORY,
               "Prepare and cook a range of stocks",
               "Produce soups and sauces to recipe specifications",
               "Evaluate the finished dishes for taste, texture and consistency"),
            _u("R/507/1205", "Prepare and cook fruit and vegetables", MANDATORY,
               "Prepare vegetables using a range of cuts",
               "Cook vegetables by boiling, steaming, roasting and frying"),
            _u("Y/507/1206", "Prepare and cook meat and offal", MANDATORY,
               "Prepare meat and offal for cooking",
               "Cook meat using a range of methods",
               "Check that dishes reach the correct core temperature"),
            _u("D/507/1207", "Prepare and cook fish and shellfish", MANDATORY,
               "Prepare whole fish and fillets",
               "Cook fish and shellfish dishes to specification"),
            _u("H/507/1208", "Produce hot and cold desserts and puddings", OPTIONAL,
               "Prepare and cook hot desserts and puddings",
               "Produce cold desserts and finish them for service"),
            _u("K/507/1209", "Produce paste products", OPTIONAL,
               "Produce short, sweet and choux paste",
               "Finish and present paste products"),
        ),
    ),
    CourseSeed(
        "610/0185/4",
        "Functional Skills Qualification in Mathematics at Level 2", "2", "qualification",
        "610/0185/4",
        (
            _u("FSM2-1", "Using numbers and the number system", MANDATORY,
               "Read, write, order and compare positive and negative numbers of any size",
               "Carry out calculations with numbers of any size using efficient methods",
               "Calculate with fractions, decimals and percentages"),
            _u("FSM2-2", "Using common measures, shape and space", MANDATORY,
               "Calculate amounts of money, including compound interest and percentage change",
               "Convert between metric and imperial units",
               "Calculate perimeters, areas and volumes of 2-D and 3-D shapes",
               "Use coordinates and scale drawings"),
            _u("FSM2-3", "Handling information and data", MANDATORY,
               "Calculate the mean, median, mode and range of data sets",
               "Interpret and construct charts and graphs",
               "Express probabilities as fractions, decimals and percentages"),
            _u("FSM2-4", "Solving mathematical problems", MANDATORY,
               "Choose an appropriate method to solve a problem",
               "Check the accuracy of results and draw conclusions"),
        ),
    ),
)  # fmt: skip


def course_uuid(key: str) -> str:
    return stable_uuid("course", key)


def unit_uuid(course_key: str, reference: str) -> str:
    return stable_uuid("unit", f"{course_key}:{reference}")


def outcome_uuid(course_key: str, unit_reference: str, position: int) -> str:
    return stable_uuid("outcome", f"{course_key}:{unit_reference}:{position}")


def outcome_reference(unit_position: int, outcome_position: int) -> str:
    """Criteria are numbered "<unit>.<criterion>", as awarding bodies print them ("1.1")."""
    return f"{unit_position}.{outcome_position}"


def course_by_key(key: str) -> CourseSeed:
    for course in COURSES:
        if course.key == key:
            return course
    raise KeyError(key)


# ---------------------------------------------------------------------------------------------
# Trainers


@dataclass(frozen=True)
class TrainerSeed:
    forename: str
    surname: str
    is_assessor: bool
    is_verifier: bool
    active: bool = True

    @property
    def email(self) -> str:
        local = f"{self.forename}.{self.surname}".lower().replace("'", "")
        return f"{local}@{PROVIDER_DOMAIN}"

    @property
    def uuid(self) -> str:
        return trainer_uuid(self.email)


def trainer_uuid(email: str) -> str:
    return stable_uuid("trainer", email)


TRAINERS: tuple[TrainerSeed, ...] = (
    TrainerSeed("Sarah", "Whitfield", True, False),
    TrainerSeed("James", "Okafor", True, False),
    TrainerSeed("Priya", "Chandra", True, True),
    TrainerSeed("Mark", "Hollins", False, True),
    TrainerSeed("Emma", "Rowntree", True, False),
    TrainerSeed("Daniel", "Bryce", True, False),
    TrainerSeed("Helen", "Marsh", False, True),
    TrainerSeed("Tom", "Ashworth", True, True),
    TrainerSeed("Aisha", "Rahman", True, False),
    TrainerSeed("Gareth", "Pryce", False, True),
    TrainerSeed("Nicola", "Thwaite", True, False),
    # Left the provider: kept so that enrolling a learner with her is refused, not unknown.
    TrainerSeed("Claire", "Dunmore", True, True, active=False),
)


# ---------------------------------------------------------------------------------------------
# Employers


@dataclass(frozen=True)
class CompanySeed:
    name: str
    postcode: str
    contact_email: str

    @property
    def uuid(self) -> str:
        return company_uuid(self.name)


def company_uuid(name: str) -> str:
    return stable_uuid("company", name)


COMPANIES: tuple[CompanySeed, ...] = (
    CompanySeed("Aire Valley Logistics Ltd", "BD17 7DQ", "hr@airevalleylogistics.co.uk"),
    CompanySeed("Bramley Care Homes Ltd", "LS13 3HS", "recruitment@bramleycare.co.uk"),
    CompanySeed("Castlegate Accountants LLP", "YO1 9RN", "office@castlegate-accountants.co.uk"),
    CompanySeed("Calder Precision Engineering Ltd", "HX1 5QA", "training@calderprecision.co.uk"),
    CompanySeed("Deansgate Digital Ltd", "M3 4LZ", "people@deansgatedigital.co.uk"),
    CompanySeed("Elmfield Dental Practice", "S10 2TB", "manager@elmfielddental.co.uk"),
    CompanySeed("Fenwick & Hall Solicitors LLP", "NE1 6SQ", "hr@fenwickhall.co.uk"),
    CompanySeed("Greenbank Housing Association", "L17 8XH", "learning@greenbankhousing.org.uk"),
    CompanySeed("Hallam Street Hair Studio", "S11 8YA", "hello@hallamstreethair.co.uk"),
    CompanySeed("Ironbridge Heritage Hotels Ltd", "TF8 7DQ", "hr@ironbridgehotels.co.uk"),
    CompanySeed("Jubilee Community Care CIC", "NG7 2QW", "admin@jubileecare.org.uk"),
    CompanySeed("Kirkstall Motor Group Ltd", "LS5 3BT", "people@kirkstallmotors.co.uk"),
    CompanySeed("Lowther Facilities Management Ltd", "CA10 2HG", "hr@lowtherfm.co.uk"),
    CompanySeed("Don Valley Retail Services Ltd", "S9 1EP", "training@donvalleyretail.co.uk"),
    CompanySeed("Pennine Rail Engineering Ltd", "OL14 6AA", "apprentices@penninerail.co.uk"),
    CompanySeed("Oakwood Academy Trust", "LS8 2PF", "hr@oakwoodacademytrust.org.uk"),
    CompanySeed("Pendle Foods Ltd", "BB9 7SR", "hr@pendlefoods.co.uk"),
    CompanySeed("Quayside Software Solutions Ltd", "NE1 3DX", "careers@quaysidesoftware.co.uk"),
    CompanySeed("Ribble Valley Veterinary Group", "BB7 2DP", "practice@ribblevalleyvets.co.uk"),
    CompanySeed("Sefton Park Day Nurseries Ltd", "L17 1AP", "office@seftonparknurseries.co.uk"),
    CompanySeed("Trent Bridge Insurance Brokers Ltd", "NG2 6AG", "hr@trentbridgeinsurance.co.uk"),
    CompanySeed("Upton Manor Residential Care", "WR8 0HW", "manager@uptonmanorcare.co.uk"),
    CompanySeed("Victoria Quarter Salon Group Ltd", "LS1 6AZ", "salons@vqsalongroup.co.uk"),
    CompanySeed("Wharfedale Building Supplies Ltd", "LS29 8QT", "hr@wharfedalebuilding.co.uk"),
    CompanySeed("Wensleydale Dairy Farms Ltd", "DL8 3JT", "people@wensleydalefarms.co.uk"),
    CompanySeed("Brunswick Medical Centre", "BS2 8BH", "practice.manager@brunswickmc.nhs.uk"),
    CompanySeed("Cathedral Quarter Hospitality Ltd", "B3 2PP", "hr@cqhospitality.co.uk"),
    CompanySeed("Mercia Home Improvements Ltd", "CV1 2GT", "office@merciahomes.co.uk"),
    CompanySeed("Solent Marine Services Ltd", "SO14 3FE", "hr@solentmarine.co.uk"),
    CompanySeed("Thames Gateway Property Management Ltd", "SE10 0DX", "lettings@tgpm.co.uk"),
)


def company_by_name(name: str) -> CompanySeed:
    for company in COMPANIES:
        if company.name == name:
            return company
    raise KeyError(name)


# ---------------------------------------------------------------------------------------------
# Nationalities: the list GOV.UK forms offer, in its own (alphabetical) order. LA's
# NationalityID is modelled as the 1-based position in this frozen list, as a string ("1" is
# Afghan); the list is only ever appended to, so an id never changes meaning.

NATIONALITIES: tuple[str, ...] = (
    "Afghan", "Albanian", "Algerian", "American", "Andorran", "Angolan", "Anguillan",
    "Citizen of Antigua and Barbuda", "Argentine", "Armenian", "Australian", "Austrian",
    "Azerbaijani", "Bahamian", "Bahraini", "Bangladeshi", "Barbadian", "Belarusian", "Belgian",
    "Belizean", "Beninese", "Bermudian", "Bhutanese", "Bolivian",
    "Citizen of Bosnia and Herzegovina", "Botswanan", "Brazilian", "British",
    "British Virgin Islander", "Bruneian", "Bulgarian", "Burkinan", "Burmese", "Burundian",
    "Cambodian", "Cameroonian", "Canadian", "Cape Verdean", "Cayman Islander", "Central African",
    "Chadian", "Chilean", "Chinese", "Colombian", "Comoran", "Congolese (Congo)",
    "Congolese (DRC)", "Cook Islander", "Costa Rican", "Croatian", "Cuban", "Cymraes", "Cymro",
    "Cypriot", "Czech", "Danish", "Djiboutian", "Dominican", "Citizen of the Dominican Republic",
    "Dutch", "East Timorese", "Ecuadorean", "Egyptian", "Emirati", "English",
    "Equatorial Guinean", "Eritrean", "Estonian", "Ethiopian", "Faroese", "Fijian", "Filipino",
    "Finnish", "French", "Gabonese", "Gambian", "Georgian", "German", "Ghanaian", "Gibraltarian",
    "Greek", "Greenlandic", "Grenadian", "Guamanian", "Guatemalan", "Citizen of Guinea-Bissau",
    "Guinean", "Guyanese", "Haitian", "Honduran", "Hong Konger", "Hungarian", "Icelandic",
    "Indian", "Indonesian", "Iranian", "Iraqi", "Irish", "Israeli", "Italian", "Ivorian",
    "Jamaican", "Japanese", "Jordanian", "Kazakh", "Kenyan", "Kittitian", "Citizen of Kiribati",
    "Kosovan", "Kuwaiti", "Kyrgyz", "Lao", "Latvian", "Lebanese", "Liberian", "Libyan",
    "Liechtenstein citizen", "Lithuanian", "Luxembourger", "Macanese", "Macedonian", "Malagasy",
    "Malawian", "Malaysian", "Maldivian", "Malian", "Maltese", "Marshallese", "Martiniquais",
    "Mauritanian", "Mauritian", "Mexican", "Micronesian", "Moldovan", "Monegasque", "Mongolian",
    "Montenegrin", "Montserratian", "Moroccan", "Mosotho", "Mozambican", "Namibian", "Nauruan",
    "Nepalese", "New Zealander", "Nicaraguan", "Nigerian", "Nigerien", "Niuean", "North Korean",
    "Northern Irish", "Norwegian", "Omani", "Pakistani", "Palauan", "Palestinian", "Panamanian",
    "Papua New Guinean", "Paraguayan", "Peruvian", "Pitcairn Islander", "Polish", "Portuguese",
    "Prydeinig", "Puerto Rican", "Qatari", "Romanian", "Russian", "Rwandan", "Salvadorean",
    "Sammarinese", "Samoan", "Sao Tomean", "Saudi Arabian", "Scottish", "Senegalese", "Serbian",
    "Citizen of Seychelles", "Sierra Leonean", "Singaporean", "Slovak", "Slovenian",
    "Solomon Islander", "Somali", "South African", "South Korean", "South Sudanese", "Spanish",
    "Sri Lankan", "St Helenian", "St Lucian", "Stateless", "Sudanese", "Surinamese", "Swazi",
    "Swedish", "Swiss", "Syrian", "Taiwanese", "Tajik", "Tanzanian", "Thai", "Togolese", "Tongan",
    "Trinidadian", "Tristanian", "Tunisian", "Turkish", "Turkmen", "Turks and Caicos Islander",
    "Tuvaluan", "Ugandan", "Ukrainian", "Uruguayan", "Uzbek", "Vatican citizen",
    "Citizen of Vanuatu", "Venezuelan", "Vietnamese", "Vincentian", "Wallisian", "Welsh",
    "Yemeni", "Zambian", "Zimbabwean",
)  # fmt: skip


def nationality_records() -> list[tuple[str, str]]:
    """``(nationality_id, name)`` in list order."""
    return [(str(i), name) for i, name in enumerate(NATIONALITIES, start=1)]


def nationality_id(name: str) -> str:
    return str(NATIONALITIES.index(name) + 1)


# ---------------------------------------------------------------------------------------------
# Ethnicities: the ILR's 19 codes and labels. LA keys them by its own id, not the ILR code, as
# e-portfolios do; "ETH01".."ETH19" follow the ILR order so the mapping is easy to read.

ETHNICITIES: tuple[tuple[str, str], ...] = (
    ("31", "English / Welsh / Scottish / Northern Irish / British"),
    ("32", "Irish"),
    ("33", "Gypsy or Irish Traveller"),
    ("34", "Any other White background"),
    ("35", "White and Black Caribbean"),
    ("36", "White and Black African"),
    ("37", "White and Asian"),
    ("38", "Any other Mixed / multiple ethnic background"),
    ("39", "Indian"),
    ("40", "Pakistani"),
    ("41", "Bangladeshi"),
    ("42", "Chinese"),
    ("43", "Any other Asian background"),
    ("44", "African"),
    ("45", "Caribbean"),
    ("46", "Any other Black / African / Caribbean background"),
    ("47", "Arab"),
    ("98", "Any other ethnic group"),
    ("99", "Not provided"),
)


def ethnicity_records() -> list[tuple[str, str, str]]:
    """``(ethnicity_id, name, ilr_code)`` in ILR order."""
    return [(f"ETH{i:02d}", name, code) for i, (code, name) in enumerate(ETHNICITIES, start=1)]


def ethnicity_ilr_codes() -> dict[str, str]:
    """LA's EthnicityID → ILR ethnicity code (``"ETH01"`` → ``"31"``)."""
    return {eid: code for eid, _, code in ethnicity_records()}


def ethnicity_id(ilr_code: str) -> str:
    return {code: eid for eid, code in ethnicity_ilr_codes().items()}[ilr_code]


# ---------------------------------------------------------------------------------------------
# ULNs


def uln_check_digit(first_nine: str) -> int | None:
    """The ULN's tenth digit for its first nine, or None when no digit makes them valid
    (docs/contract.md §3.5 ``ULN``): S = 10·d1 + … + 2·d9, r = S mod 11, r = 0 invalid,
    d10 = 10 - r."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    r = total % 11
    return None if r == 0 else 10 - r


def make_uln(stem: int) -> str:
    """The first valid ULN whose nine leading digits are ``stem`` or the next numbers up."""
    for candidate in range(stem, stem + 11):
        first_nine = f"{candidate:09d}"
        digit = uln_check_digit(first_nine)
        if digit is not None and first_nine[0] != "0":
            return f"{first_nine}{digit}"
    raise ValueError(f"no valid ULN near {stem}")


# ---------------------------------------------------------------------------------------------
# Existing learners, already enrolled before labridge ever ran


@dataclass(frozen=True)
class CandidateSeed:
    source_id: str
    forename: str
    surname: str
    birth_date: str
    gender: str
    email: str
    uln_stem: int
    ni_number: str
    mobile: str
    line1: str
    town: str
    county: str
    postcode: str
    nationality: str
    ethnicity_ilr: str
    company: str
    course: str
    start_date: str
    end_date: str
    status: str
    assessor: str  # trainer e-mail
    verifier: str  # trainer e-mail
    job_title: str
    line_manager: str
    created_at: str
    department: str = ""
    optional_units: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def uuid(self) -> str:
        return stable_uuid("candidate", self.source_id)


def _trainer(surname: str) -> str:
    return next(t.email for t in TRAINERS if t.surname == surname)


CANDIDATES: tuple[CandidateSeed, ...] = (
    CandidateSeed(
        "MIS-000123", "Olivia", "Hartley", "2006-03-14", "F", "olivia.hartley06@example.com",
        427186305, "JT482915B", "07700 900123", "14 Blenheim Walk", "York", "North Yorkshire",
        "YO31 8QF", "British", "31", "Castlegate Accountants LLP", "ST0070",
        "2025-09-01", "2027-03-01", "Active", _trainer("Whitfield"), _trainer("Hollins"),
        "Office Administrator", "Rebecca Lowe", "2025-08-27T09:12:00+00:00",
        department="Client Services", optional_units=("U7",),
        extra={"employee_reference": "CA-0417", "line_manager_phone": "0113 496 0321"},
    ),
    CandidateSeed(
        "MIS-000131", "Mohammed", "Iqbal", "2001-11-02", "M", "m.iqbal@example.co.uk",
        615203847, "NP738204A", "07700 900456", "7 Claremont Road", "Manchester",
        "Greater Manchester", "M14 5RS", "British", "40", "Deansgate Digital Ltd", "ST0795",
        "2025-10-06", "2027-01-29", "Active", _trainer("Okafor"), _trainer("Chandra"),
        "Junior Data Analyst", "Sophie Turner", "2025-09-30T14:40:00+00:00",
        department="Insight", optional_units=("S10",),
    ),
    CandidateSeed(
        "MIS-000142", "Chloe", "Bennett", "2004-07-21", "F", "chloe.bennett@example.org",
        731904526, "SH591372D", "07700 900789", "22 Stanningley Road", "Leeds",
        "West Yorkshire", "LS13 4BN", "British", "31", "Bramley Care Homes Ltd", "ST0005",
        "2026-01-12", "2027-04-30", "Active", _trainer("Rowntree"), _trainer("Marsh"),
        "Care Assistant", "Janet Firth", "2026-01-08T11:05:00+00:00",
        optional_units=("A/616/6354", "J/616/6356"),
    ),
    CandidateSeed(
        "MIS-000157", "Liam", "O'Connor", "1994-05-09", "M", "liam.oconnor@example.net",
        508317264, "RE206481C", "07700 900234", "3 Abbey Mews", "Leeds", "West Yorkshire",
        "LS5 3HP", "Irish", "32", "Kirkstall Motor Group Ltd", "ST0384",
        "2025-05-06", "2026-08-28", "BreakInLearning", _trainer("Ashworth"), _trainer("Pryce"),
        "Workshop Supervisor", "David Kershaw", "2025-04-29T08:30:00+00:00",
        department="Aftersales",
    ),
    CandidateSeed(
        "MIS-000164", "Jessica", "Nowak", "2005-01-30", "F", "jess.nowak@example.com",
        296451738, "WL847319A", "07700 900567", "41 Heslington Lane", "York",
        "North Yorkshire", "YO10 5DX", "Polish", "34", "Castlegate Accountants LLP", "ST0002",
        "2025-01-06", "2026-01-30", "Completed", _trainer("Whitfield"), _trainer("Chandra"),
        "Accounts Assistant", "Rebecca Lowe", "2024-12-18T16:20:00+00:00",
        department="Bookkeeping", optional_units=("U5",),
    ),
    CandidateSeed(
        "MIS-000178", "Ethan", "Clarke", "2007-09-17", "M", "ethan.clarke07@example.com",
        384620915, "PC351907B", "07700 900890", "9 Ecclesall Road South", "Sheffield",
        "South Yorkshire", "S11 9PA", "British", "35", "Don Valley Retail Services Ltd", "ST0072",
        "2026-02-02", "2027-03-31", "Active", _trainer("Rahman"), _trainer("Ashworth"),
        "Customer Service Advisor", "Karen Pickering", "2026-01-26T10:00:00+00:00",
        department="Customer Contact", optional_units=("U5",),
    ),
    CandidateSeed(
        "MIS-000185", "Amelia", "Khan", "1999-12-04", "F", "amelia.khan@example.org",
        852063471, "HR624058D", "07700 900345", "58 Colne Road", "Nelson", "Lancashire",
        "BB9 0RT", "British", "41", "Pendle Foods Ltd", "610/0185/4",
        "2025-11-03", "2026-05-29", "Active", _trainer("Bryce"), _trainer("Hollins"),
        "Production Operative", "Imran Shah", "2025-10-28T13:45:00+00:00",
        extra={"awarding_body_registration_no": "PRN2511034"},
    ),
    # Withdrawn learners: LA keeps them, and lists them only with blnActive false (docs/contract.md
    # §3.3). Ben Patel is examples/learners.csv's MIS-200107 under the id MIS-900107 (the sample's
    # figures stay as they are): a test enrolling his row with that id meets a learner a client
    # forgetting the withdrawn (from a lost store, say) would enrol a second time.
    CandidateSeed(
        "MIS-900107", "Ben", "Patel", "1989-05-23", "M", "ben.patel68@example.org",
        512517291, "BM229651C", "07456 512426", "114 Mill Lane", "Manchester",
        "Greater Manchester", "M8 1DZ", "British", "31", "Cathedral Quarter Hospitality Ltd",
        "600/6982/5", "2024-09-02", "2025-12-19", "Withdrawn", _trainer("Okafor"),
        _trainer("Hollins"), "Commis Chef", "Lily Norris", "2024-08-28T10:30:00+00:00",
    ),
    CandidateSeed(
        "MIS-000192", "Grace", "Holloway", "2003-08-11", "F", "grace.holloway@example.com",
        719305284, "KT205846B", "07700 900678", "16 Otley Road", "Leeds", "West Yorkshire",
        "LS6 2AL", "British", "31", "Bramley Care Homes Ltd", "ST0005",
        "2025-03-03", "2026-06-30", "Withdrawn", _trainer("Rowntree"), _trainer("Marsh"),
        "Care Assistant", "Janet Firth", "2025-02-24T09:00:00+00:00",
    ),
)  # fmt: skip


def candidate_units(seed: CandidateSeed) -> list[str]:
    """UUIDs of the units a seeded learner is enrolled on: the mandatory ones and any chosen."""
    course = course_by_key(seed.course)
    return [
        unit_uuid(course.key, u.reference)
        for u in course.units
        if u.mandatory or u.reference in seed.optional_units
    ]


def candidate_record(seed: CandidateSeed) -> dict[str, str | bool]:
    """A seeded learner as a ``candidates`` row (column name → value)."""
    course = course_by_key(seed.course)
    company = company_by_name(seed.company)
    record: dict[str, str | bool] = {
        "candidate_uuid": seed.uuid,
        "source_id": seed.source_id,
        "forename": seed.forename,
        "surname": seed.surname,
        "birth_date": seed.birth_date,
        "gender": seed.gender,
        "email": seed.email,
        "uln": make_uln(seed.uln_stem),
        "ni_number": seed.ni_number,
        "mobile": seed.mobile,
        "line1": seed.line1,
        "town": seed.town,
        "county": seed.county,
        "postcode": seed.postcode,
        "nationality_id": nationality_id(seed.nationality),
        "ethnicity_id": ethnicity_id(seed.ethnicity_ilr),
        "employment_status": "10",  # ILR EmpStat 10: in paid employment
        "company_uuid": company.uuid,
        "course_uuid": course_uuid(course.key),
        "course_qan": course.qan,
        "start_date": seed.start_date,
        "end_date": seed.end_date,
        "status": seed.status,
        "assessor_uuid": trainer_uuid(seed.assessor),
        "verifier_uuid": trainer_uuid(seed.verifier),
        "job_title": seed.job_title,
        "department": seed.department,
        "line_manager": seed.line_manager,
        "line_manager_email": _line_manager_email(seed.line_manager, company),
        "is_test": False,
        "created_at": seed.created_at,
    }
    record.update(seed.extra)
    return record


def _line_manager_email(name: str, company: CompanySeed) -> str:
    domain = company.contact_email.split("@", 1)[1]
    return f"{name.lower().replace(' ', '.')}@{domain}"


# ---------------------------------------------------------------------------------------------
# A big centre, generated on request (``labridge sandbox serve --seed-candidates N``)

_GEN_FORENAMES = ("Amelia", "Oliver", "Isla", "Noah", "Ava", "Leo", "Mia", "Arthur", "Ivy",
                  "Oscar", "Freya", "Harry", "Grace", "Theo", "Lily", "Jack")  # fmt: skip
_GEN_SURNAMES = ("Ashworth", "Brearley", "Crowther", "Dewhurst", "Entwistle", "Fairclough",
                 "Greenhalgh", "Haworth", "Illingworth", "Jagger", "Kershaw", "Lumb")  # fmt: skip
#: One learner in twenty of each kind not in learning, the rest Active.
_GEN_STATUS = {1: "Withdrawn", 2: "Completed", 3: "BreakInLearning"}


@dataclass(frozen=True)
class Generated:
    """How many learners to add to the seed, spread evenly over how many added courses (each a
    qualification with a QAN, so that GetCandidates can list one course at a time)."""

    candidates: int
    courses: int = 300


def generated_courses(count: int) -> list[CourseSeed]:
    """``count`` invented qualifications, QANs 690/0001/1 on, two mandatory units each."""
    units = (
        _u("G1", "Working safely", MANDATORY, "Follow safe working practices", "Report hazards"),
        _u("G2", "Working with others", MANDATORY, "Communicate with colleagues", "Review work"),
    )
    return [
        CourseSeed(
            f"GEN{i:04d}",
            f"Generated Qualification {i} (Level 2)",
            "2",
            "qualification",
            f"690/{i:04d}/{i % 10}",
            units,
        )
        for i in range(1, count + 1)
    ]


def generated_candidates(
    count: int, courses: list[CourseSeed]
) -> Iterator[tuple[dict[str, str | bool], CourseSeed]]:
    """``count`` invented learners spread evenly over ``courses``, each as a ``candidates`` row
    with its course."""
    assessors = [t.uuid for t in TRAINERS if t.is_assessor and t.active]
    verifiers = [t.uuid for t in TRAINERS if t.is_verifier and t.active]
    british, white = nationality_id("British"), ethnicity_id("31")
    for position in range(1, count + 1):
        course = courses[position % len(courses)]
        company = COMPANIES[position % len(COMPANIES)]
        forename = _GEN_FORENAMES[position % len(_GEN_FORENAMES)]
        surname = _GEN_SURNAMES[(position // len(_GEN_FORENAMES)) % len(_GEN_SURNAMES)]
        row: dict[str, str | bool] = {
            "candidate_uuid": stable_uuid("candidate", f"generated:{position}"),
            "source_id": f"GEN{position:07d}",
            "forename": forename,
            "surname": surname,
            "birth_date": "2004-05-17",
            "gender": "F" if position % 2 else "M",
            "email": f"{forename}.{surname}.{position}@example.org".lower(),
            "uln": make_uln(300_000_000 + 11 * position),
            "postcode": "LS1 4AP",
            "nationality_id": british,
            "ethnicity_id": white,
            "employment_status": "10",
            "company_uuid": company.uuid,
            "course_uuid": course_uuid(course.key),
            "course_qan": course.qan,
            "start_date": "2026-09-07",
            "end_date": "2027-09-06",
            "status": _GEN_STATUS.get(position % 20, "Active"),
            "assessor_uuid": assessors[position % len(assessors)],
            "verifier_uuid": verifiers[position % len(verifiers)],
            "is_test": False,
            "created_at": "2026-09-07T09:00:00Z",
        }
        yield row, course
