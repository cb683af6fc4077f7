-- Custom domains added by staff start unverified, with a token to prove control of the
-- domain (an HTTP file or a DNS TXT record); operators' domains are verified at once.

alter table tenant_domain add column verification_token text
    check (verification_token is null or verification_token ~ '^[A-Za-z0-9_-]{16,64}$');
