"""The people of the chaos test's journeys: passwords and profiles (no locust here: the test
process imports this, the load process too)."""

PASSWORD = "Quartz!Meadow7River"  # fits level 2 and shares no 3-letter run with the names below
NEW_PASSWORD = "Copper#Lantern42Sky"
ADMIN = {"title": "MME", "last_name": "Lovelace", "first_name": "Ada", "language": "en-US"}
USER = {"title": "M", "last_name": "Kilburn", "first_name": "Tom", "language": "en-GB"}
