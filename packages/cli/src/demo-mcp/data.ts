/**
 * Bundled data behind the demo organizations' MCP tools. Small, fixed and in the source so every tool
 * answer is deterministic. The government catalog is fictional ("Northvale" does not exist); the
 * library's books are real editions.
 */

/** Sentiment lexicon: word -> weight in [-1, 1]. */
export const SENTIMENT_LEXICON: Readonly<Record<string, number>> = {
  excellent: 1,
  outstanding: 1,
  amazing: 0.9,
  wonderful: 0.9,
  fantastic: 0.9,
  love: 0.9,
  brilliant: 0.8,
  great: 0.8,
  delighted: 0.8,
  superb: 0.8,
  happy: 0.7,
  impressive: 0.7,
  enjoy: 0.6,
  good: 0.6,
  glad: 0.6,
  pleased: 0.6,
  reliable: 0.6,
  success: 0.6,
  successful: 0.6,
  helpful: 0.5,
  like: 0.4,
  nice: 0.5,
  safe: 0.5,
  fast: 0.4,
  clear: 0.4,
  easy: 0.4,
  improve: 0.4,
  improved: 0.5,
  recommend: 0.6,
  thanks: 0.5,
  fine: 0.2,
  adequate: 0.1,
  okay: 0.1,
  slow: -0.4,
  confusing: -0.5,
  difficult: -0.4,
  problem: -0.4,
  issue: -0.3,
  late: -0.3,
  unclear: -0.4,
  poor: -0.6,
  bad: -0.6,
  wrong: -0.5,
  fail: -0.6,
  failed: -0.6,
  failure: -0.7,
  broken: -0.7,
  unsafe: -0.7,
  sad: -0.6,
  angry: -0.7,
  disappointed: -0.6,
  disappointing: -0.6,
  useless: -0.8,
  hate: -0.9,
  awful: -0.9,
  terrible: -0.9,
  horrible: -0.9,
  worst: -1,
  disaster: -0.9,
  dangerous: -0.7,
};

/** Words that flip the weight of the sentiment word right after them ("not good"). */
export const NEGATORS: ReadonlySet<string> = new Set([
  'not',
  'no',
  'never',
  'hardly',
  "isn't",
  "wasn't",
  "don't",
  "doesn't",
  "didn't",
  "aren't",
  "can't",
  "won't",
]);

export interface AggregateStatistic {
  statistic: string;
  value: number;
  unit: string;
  period: string;
  basedOnRecords: number;
}

export interface Dataset {
  id: string;
  title: string;
  publisher: string;
  license: string;
  keywords: string[];
  /** ISO date of the last update. */
  updated: string;
  /** The one aggregate `restricted_records` discloses; row-level data never leaves the catalog. */
  aggregate: AggregateStatistic;
}

export const OPEN_DATASETS: readonly Dataset[] = [
  {
    id: 'nv-air-quality-hourly',
    title: 'Hourly air quality measurements (PM2.5, NO2, O3)',
    publisher: 'Northvale Environment Agency',
    license: 'CC-BY-4.0',
    keywords: ['air quality', 'pollution', 'pm2.5', 'no2', 'ozone', 'environment'],
    updated: '2025-05-30',
    aggregate: {
      statistic: 'median PM2.5 concentration across monitoring stations',
      value: 8.7,
      unit: 'µg/m³',
      period: '2024',
      basedOnRecords: 412_331,
    },
  },
  {
    id: 'nv-census-2021-households',
    title: 'Population census 2021: households and age structure',
    publisher: 'Northvale Statistics Office',
    license: 'CC-BY-4.0',
    keywords: ['population', 'census', 'households', 'age', 'demographics'],
    updated: '2023-11-14',
    aggregate: {
      statistic: 'mean household size',
      value: 2.31,
      unit: 'persons',
      period: '2021',
      basedOnRecords: 1_284_506,
    },
  },
  {
    id: 'nv-transit-ridership-monthly',
    title: 'Monthly public transport ridership by line',
    publisher: 'Northvale Transit Authority',
    license: 'CC0-1.0',
    keywords: ['transport', 'bus', 'rail', 'ridership', 'mobility'],
    updated: '2025-06-02',
    aggregate: {
      statistic: 'average weekday boardings',
      value: 612_400,
      unit: 'boardings per day',
      period: '2024',
      basedOnRecords: 223_526_000,
    },
  },
  {
    id: 'nv-hospital-waiting-times',
    title: 'Hospital waiting times by department',
    publisher: 'Northvale Health Service',
    license: 'CC-BY-4.0',
    keywords: ['health', 'hospital', 'waiting times', 'emergency', 'patients'],
    updated: '2025-04-18',
    aggregate: {
      statistic: 'median emergency department waiting time',
      value: 94,
      unit: 'minutes',
      period: '2024-Q4',
      basedOnRecords: 187_902,
    },
  },
  {
    id: 'nv-school-enrolment',
    title: 'School enrolment and attendance by district',
    publisher: 'Northvale Ministry of Education',
    license: 'CC-BY-4.0',
    keywords: ['education', 'schools', 'enrolment', 'attendance', 'children'],
    updated: '2024-10-01',
    aggregate: {
      statistic: 'mean pupil attendance rate',
      value: 93.6,
      unit: '%',
      period: 'school year 2023/24',
      basedOnRecords: 301_877,
    },
  },
  {
    id: 'nv-river-water-quality',
    title: 'River water quality monitoring (nitrate, phosphate, oxygen)',
    publisher: 'Northvale Environment Agency',
    license: 'CC-BY-4.0',
    keywords: ['water', 'rivers', 'water quality', 'nitrate', 'environment'],
    updated: '2025-03-12',
    aggregate: {
      statistic: 'share of sampling sites rated good',
      value: 61.2,
      unit: '%',
      period: '2024',
      basedOnRecords: 38_450,
    },
  },
  {
    id: 'nv-electricity-consumption',
    title: 'Electricity consumption by sector and source',
    publisher: 'Northvale Energy Regulator',
    license: 'ODbL-1.0',
    keywords: ['energy', 'electricity', 'consumption', 'renewables', 'climate'],
    updated: '2025-02-27',
    aggregate: {
      statistic: 'renewable share of electricity consumed',
      value: 47.8,
      unit: '%',
      period: '2024',
      basedOnRecords: 8_784,
    },
  },
  {
    id: 'nv-road-collisions',
    title: 'Road traffic collisions with injuries',
    publisher: 'Northvale Transport Safety Board',
    license: 'CC-BY-4.0',
    keywords: ['roads', 'collisions', 'traffic', 'safety', 'injuries', 'transport'],
    updated: '2025-05-06',
    aggregate: {
      statistic: 'injury collisions per 100,000 residents',
      value: 212.4,
      unit: 'collisions per 100,000',
      period: '2024',
      basedOnRecords: 9_641,
    },
  },
  {
    id: 'nv-business-register',
    title: 'Register of active businesses by sector',
    publisher: 'Northvale Companies Registry',
    license: 'CC0-1.0',
    keywords: ['business', 'companies', 'economy', 'employment', 'sectors'],
    updated: '2025-06-10',
    aggregate: {
      statistic: 'median number of employees per active business',
      value: 3,
      unit: 'employees',
      period: '2025-06',
      basedOnRecords: 214_083,
    },
  },
  {
    id: 'nv-government-spending',
    title: 'Government spending by function',
    publisher: 'Northvale Ministry of Finance',
    license: 'CC-BY-4.0',
    keywords: ['budget', 'spending', 'finance', 'expenditure', 'government'],
    updated: '2025-01-31',
    aggregate: {
      statistic: 'health share of total expenditure',
      value: 18.9,
      unit: '%',
      period: 'FY2024',
      basedOnRecords: 52_117,
    },
  },
  {
    id: 'nv-weather-daily',
    title: 'Daily weather observations (temperature, precipitation, wind)',
    publisher: 'Northvale Meteorological Service',
    license: 'CC-BY-4.0',
    keywords: ['weather', 'temperature', 'precipitation', 'climate', 'wind'],
    updated: '2025-06-15',
    aggregate: {
      statistic: 'mean annual temperature anomaly against 1991-2020',
      value: 1.1,
      unit: '°C',
      period: '2024',
      basedOnRecords: 23_790,
    },
  },
  {
    id: 'nv-housing-prices',
    title: 'Residential property price index',
    publisher: 'Northvale Statistics Office',
    license: 'CC-BY-4.0',
    keywords: ['housing', 'prices', 'property', 'index', 'economy'],
    updated: '2025-05-20',
    aggregate: {
      statistic: 'median dwelling sale price',
      value: 287_500,
      unit: 'EUR',
      period: '2024',
      basedOnRecords: 61_338,
    },
  },
  {
    id: 'nv-flood-risk-zones',
    title: 'Flood risk zones and defended areas',
    publisher: 'Northvale Environment Agency',
    license: 'OGL-3.0',
    keywords: ['flood', 'risk', 'water', 'climate', 'geospatial'],
    updated: '2025-04-02',
    aggregate: {
      statistic: 'share of residential addresses in high flood-risk zones',
      value: 4.3,
      unit: '%',
      period: '2025',
      basedOnRecords: 1_902_115,
    },
  },
];

export const GLOSSARY_LANGUAGES = [
  { code: 'fr', name: 'French', nativeName: 'français' },
  { code: 'es', name: 'Spanish', nativeName: 'español' },
  { code: 'sw', name: 'Swahili', nativeName: 'Kiswahili' },
  { code: 'ar', name: 'Arabic', nativeName: 'العربية' },
] as const;

export type GlossaryLanguage = (typeof GLOSSARY_LANGUAGES)[number]['code'];

/** Humanitarian field glossary: English term -> translations. */
export const GLOSSARY: Readonly<Record<string, Readonly<Record<GlossaryLanguage, string>>>> = {
  water: { fr: 'eau', es: 'agua', sw: 'maji', ar: 'ماء' },
  food: { fr: 'nourriture', es: 'alimentos', sw: 'chakula', ar: 'طعام' },
  shelter: { fr: 'abri', es: 'refugio', sw: 'makazi', ar: 'مأوى' },
  tent: { fr: 'tente', es: 'tienda de campaña', sw: 'hema', ar: 'خيمة' },
  blanket: { fr: 'couverture', es: 'manta', sw: 'blanketi', ar: 'بطانية' },
  vaccine: { fr: 'vaccin', es: 'vacuna', sw: 'chanjo', ar: 'لقاح' },
  medicine: { fr: 'médicament', es: 'medicamento', sw: 'dawa', ar: 'دواء' },
  doctor: { fr: 'médecin', es: 'médico', sw: 'daktari', ar: 'طبيب' },
  hospital: { fr: 'hôpital', es: 'hospital', sw: 'hospitali', ar: 'مستشفى' },
  'first aid': {
    fr: 'premiers secours',
    es: 'primeros auxilios',
    sw: 'huduma ya kwanza',
    ar: 'إسعافات أولية',
  },
  emergency: { fr: 'urgence', es: 'emergencia', sw: 'dharura', ar: 'حالة طوارئ' },
  help: { fr: 'aide', es: 'ayuda', sw: 'msaada', ar: 'مساعدة' },
  refugee: { fr: 'réfugié', es: 'refugiado', sw: 'mkimbizi', ar: 'لاجئ' },
  camp: { fr: 'camp', es: 'campamento', sw: 'kambi', ar: 'مخيم' },
  child: { fr: 'enfant', es: 'niño', sw: 'mtoto', ar: 'طفل' },
  family: { fr: 'famille', es: 'familia', sw: 'familia', ar: 'عائلة' },
  soap: { fr: 'savon', es: 'jabón', sw: 'sabuni', ar: 'صابون' },
  latrine: { fr: 'latrine', es: 'letrina', sw: 'choo', ar: 'مرحاض' },
  'mosquito net': { fr: 'moustiquaire', es: 'mosquitero', sw: 'chandarua', ar: 'ناموسية' },
  evacuation: { fr: 'évacuation', es: 'evacuación', sw: 'uhamishaji', ar: 'إخلاء' },
  flood: { fr: 'inondation', es: 'inundación', sw: 'mafuriko', ar: 'فيضان' },
  earthquake: { fr: 'tremblement de terre', es: 'terremoto', sw: 'tetemeko la ardhi', ar: 'زلزال' },
  volunteer: { fr: 'bénévole', es: 'voluntario', sw: 'mtu wa kujitolea', ar: 'متطوع' },
  fever: { fr: 'fièvre', es: 'fiebre', sw: 'homa', ar: 'حمى' },
  cholera: { fr: 'choléra', es: 'cólera', sw: 'kipindupindu', ar: 'كوليرا' },
};

export interface Book {
  title: string;
  author: string;
  year: number;
  /** ISBN-13 of the edition the library holds. */
  isbn: string;
  subjects: string[];
}

export const LIBRARY_BOOKS: readonly Book[] = [
  {
    title: 'Frankenstein',
    author: 'Mary Shelley',
    year: 1818,
    isbn: '9780141439471',
    subjects: ['fiction', 'science fiction', 'gothic'],
  },
  {
    title: 'Pride and Prejudice',
    author: 'Jane Austen',
    year: 1813,
    isbn: '9780141439518',
    subjects: ['fiction', 'romance', 'society'],
  },
  {
    title: 'Wuthering Heights',
    author: 'Emily Brontë',
    year: 1847,
    isbn: '9780141439556',
    subjects: ['fiction', 'gothic', 'romance'],
  },
  {
    title: 'Great Expectations',
    author: 'Charles Dickens',
    year: 1861,
    isbn: '9780141439563',
    subjects: ['fiction', 'coming of age', 'society'],
  },
  {
    title: 'Dracula',
    author: 'Bram Stoker',
    year: 1897,
    isbn: '9780141439846',
    subjects: ['fiction', 'horror', 'gothic'],
  },
  {
    title: 'Jane Eyre',
    author: 'Charlotte Brontë',
    year: 1847,
    isbn: '9780141441146',
    subjects: ['fiction', 'coming of age', 'romance'],
  },
  {
    title: 'Moby-Dick',
    author: 'Herman Melville',
    year: 1851,
    isbn: '9780142437247',
    subjects: ['fiction', 'adventure', 'sea'],
  },
  {
    title: 'Adventures of Huckleberry Finn',
    author: 'Mark Twain',
    year: 1884,
    isbn: '9780142437179',
    subjects: ['fiction', 'adventure', 'coming of age'],
  },
  {
    title: 'Crime and Punishment',
    author: 'Fyodor Dostoevsky',
    year: 1866,
    isbn: '9780140449136',
    subjects: ['fiction', 'psychology', 'crime'],
  },
  {
    title: 'War and Peace',
    author: 'Leo Tolstoy',
    year: 1869,
    isbn: '9780140447934',
    subjects: ['fiction', 'history', 'war'],
  },
  {
    title: 'The Count of Monte Cristo',
    author: 'Alexandre Dumas',
    year: 1844,
    isbn: '9780140449266',
    subjects: ['fiction', 'adventure', 'revenge'],
  },
  {
    title: 'The Time Machine',
    author: 'H. G. Wells',
    year: 1895,
    isbn: '9780141439976',
    subjects: ['fiction', 'science fiction'],
  },
  {
    title: 'Heart of Darkness',
    author: 'Joseph Conrad',
    year: 1899,
    isbn: '9780141441672',
    subjects: ['fiction', 'colonialism', 'novella'],
  },
  {
    title: 'Silent Spring',
    author: 'Rachel Carson',
    year: 1962,
    isbn: '9780618249060',
    subjects: ['non-fiction', 'environment', 'science', 'pesticides'],
  },
  {
    title: 'The Ghost Map',
    author: 'Steven Johnson',
    year: 2006,
    isbn: '9781594482694',
    subjects: ['non-fiction', 'public health', 'history', 'cholera', 'water'],
  },
];
