output "base_domain" {
  description = "The base domain (PARTICIPE_BASE_DOMAIN, chart value baseDomain)."
  value       = local.base_domain
}

output "fqdns" {
  description = "The platform's host names, by role (wildcard, console, ops)."
  value       = { for k, v in local.hosts : k => v == "" ? var.dns_zone : "${v}.${var.dns_zone}" }
}
