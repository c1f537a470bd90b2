"""Small word lists for plausible generated data."""

FIRST_NAMES = (
    "Ava",
    "Liam",
    "Mia",
    "Noah",
    "Emma",
    "Lucas",
    "Sofia",
    "Hugo",
    "Chloe",
    "Yuki",
    "Hana",
    "Oliver",
    "Amelia",
    "Jonas",
    "Lena",
    "Mateo",
    "Zoe",
    "Aarav",
    "Ines",
    "Freya",
)
LAST_NAMES = (
    "Smith",
    "Garcia",
    "Müller",
    "Rossi",
    "Dubois",
    "Tanaka",
    "Kowalski",
    "Jones",
    "Brown",
    "Nguyen",
    "Silva",
    "Jansen",
    "O'Brien",
    "Schmidt",
    "Martin",
    "Sato",
    "Evans",
    "Lopez",
)
# (city, state, zip, country)
PLACES = (
    ("Portland", "OR", "97205", "US"),
    ("Austin", "TX", "78701", "US"),
    ("Brooklyn", "NY", "11201", "US"),
    ("Toronto", "ON", "M5V 2T6", "CA"),
    ("London", None, "SW1A 1AA", "GB"),
    ("Berlin", None, "10115", "DE"),
    ("Lyon", None, "69001", "FR"),
    ("Osaka", "Osaka", "530-0001", "JP"),
    ("Melbourne", "VIC", "3000", "AU"),
    ("Utrecht", None, "3511", "NL"),
)
EU_COUNTRIES = frozenset({"DE", "FR", "NL"})
STREETS = ("Oak St", "Maple Ave", "High Street", "Rue Victor Hugo", "Hauptstraße", "Elm Road")
ADJECTIVES = (
    "Handmade",
    "Vintage",
    "Rustic",
    "Minimal",
    "Personalized",
    "Boho",
    "Ceramic",
    "Linen",
    "Wooden",
    "Silver",
    "Hand-dyed",
    "Botanical",
)
NOUNS = (
    "Mug",
    "Necklace",
    "Tote Bag",
    "Print",
    "Candle",
    "Earrings",
    "Planter",
    "Scarf",
    "Journal",
    "Coaster Set",
    "Ring",
    "Wall Hanging",
    "Sticker Pack",
    "Pattern PDF",
)
COLORS = ("Black", "White", "Sage", "Terracotta", "Navy", "Blush", "Mustard")
SIZES = ("XS", "S", "M", "L", "XL")
MATERIALS = ("Cotton", "Linen", "Wool", "Silk")
CARRIERS = ("usps", "ups", "fedex", "dhl", "royal-mail", "canada-post", "japan-post", "other")
