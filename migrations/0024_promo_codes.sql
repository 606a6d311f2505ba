-- Promotion codes of enrollments (issue 22). A sale that names one (a Stripe discount's
-- promotion code, `coupon_code` on the events API or a manual conversion) is attributed to
-- the enrollment as a touch at sale time, without a click.
--
-- `code` keeps the spelling the vendor chose (`JANE20`); uniqueness and lookups are
-- case-insensitive per vendor. `stripe_promotion_code_id` (`promo_...`) lets a Stripe event
-- that names only the promotion code's id find it. `disabled_at` set: the code no longer
-- attributes (kept so its history reads).
CREATE TABLE promo_codes (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    enrollment_id TEXT NOT NULL REFERENCES enrollments (id),
    affiliate_id TEXT NOT NULL REFERENCES affiliates (id),
    code TEXT NOT NULL,
    stripe_promotion_code_id TEXT,
    disabled_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_promo_codes__code ON promo_codes (vendor_id, LOWER(code));
CREATE UNIQUE INDEX ux_promo_codes__stripe_promotion_code_id ON promo_codes (vendor_id, stripe_promotion_code_id);
CREATE INDEX ix_promo_codes__affiliate ON promo_codes (vendor_id, affiliate_id, created_at);
