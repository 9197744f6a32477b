"""The names Cometly's API accepts (docs/cometly-api.md §6), and the fields an event row can carry.

Deliberately the fake's own copy, not `cometly_elt.cometly.catalog`'s: the fake is written
from the API's documentation, so a mistake in the client's vocabulary cannot hide in the
fake as well.
"""

from __future__ import annotations

STANDARD_EVENTS = (
    "add_payment_info", "add_to_cart", "complete_registration", "contact", "initiate_checkout",
    "lead_generated", "purchase", "schedule", "sign_up", "start_trial", "submit_application",
    "subscribe", "upsell_purchase", "view_content", "webinar_registration",
)
CUSTOM_EVENTS = tuple(f"custom_event_{n}" for n in range(1, 51))
EVENT_NAMES = frozenset(STANDARD_EVENTS + CUSTOM_EVENTS)

PAID_SOURCES = (
    "facebook_ads", "google_ads", "linkedin_ads", "tiktok_ads", "youtube_ads", "instagram_ads",
    "bing_ads", "yahoo_ads", "pinterest_ads", "reddit_ads", "snapchat_ads", "telegram_ads",
    "twitch_ads", "x_ads", "quora_ads", "duckduckgo_ads",
)
SOURCES = frozenset(PAID_SOURCES + (
    "facebook_organic", "google_organic", "linkedin_organic", "tiktok_organic", "youtube_organic",
    "instagram_organic", "bing_organic", "yahoo_organic", "pinterest_organic", "reddit_organic",
    "snapchat_organic", "telegram_organic", "twitch_organic", "x_organic", "quora_organic",
    "duckduckgo_organic", "messenger_organic", "brave_organic", "threads_organic",
    "ai_chat_gpt", "ai_perplexity", "ai_copilot", "ai_claude", "ai_grok", "ai_gemini", "ai_deepseek",
    "email", "sms", "referral", "direct", "shop_app", "substack", "capterra", "trustpilot", "g2", "yelp",
))
ATTRIBUTION_MODELS = (
    "first_touch", "last_touch", "linear", "first_platform_touch", "last_platform_touch",
    "linear_paid", "u_shaped", "last_non_direct_touch",
)
ATTRIBUTION_WINDOWS = (0, 1, 7, 14, 30, 60, 90)
QUERY_MODES = ("profile", "company")

TOUCH_NAME_FIELDS = ("account_name", "campaign_name", "adset_name", "ad_name")
TOUCH_ID_FIELDS = ("account_id", "campaign_id", "adset_id", "ad_id")
TOUCHPOINT_FIELDS = ("source",) + TOUCH_ID_FIELDS + TOUCH_NAME_FIELDS
