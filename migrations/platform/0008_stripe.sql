-- Stripe's plans are found by the id Participe gives them (`participe-<stratum>-<period>-
-- <cents>`, services/stripe) in whichever account the key opens, instead of an id stored
-- here that only one account knows (a test key and a live key would share it).
alter table plan drop column stripe_plan;
