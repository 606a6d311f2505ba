-- More billing providers: one write-only credential per program and provider, beside the
-- Stripe secret (0006). Each is what the provider's dashboard shows for the endpoint
-- `/webhooks/<provider>/<program id>`; none is ever shown back.

-- Paddle Billing: the notification destination's secret key (`pdl_ntfset_...`).
ALTER TABLE programs ADD COLUMN paddle_webhook_secret TEXT;
-- Lemon Squeezy: the webhook's signing secret.
ALTER TABLE programs ADD COLUMN lemonsqueezy_webhook_secret TEXT;
-- Polar: the webhook endpoint's secret (`polar_whs_...`, or a Standard Webhooks `whsec_...`).
ALTER TABLE programs ADD COLUMN polar_webhook_secret TEXT;
-- Chargebee signs nothing: the endpoint is protected by HTTP basic authentication with
-- this user name and password, set on the webhook in Chargebee.
ALTER TABLE programs ADD COLUMN chargebee_webhook_username TEXT;
ALTER TABLE programs ADD COLUMN chargebee_webhook_password TEXT;
