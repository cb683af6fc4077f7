# The platform's own names: `*.<base>` (every tenant's portal), `console.<base>` and
# `ops.<base>`, all pointing at the ingress controller. Custom domains belong to the
# collectivités' own zones: they point them at the edge themselves.

locals {
  suffix = var.base_subdomain == "" ? "" : ".${var.base_subdomain}"
  hosts = {
    wildcard = "*${local.suffix}"
    console  = "console${local.suffix}"
    ops      = "ops${local.suffix}"
  }
  base_domain = var.base_subdomain == "" ? var.dns_zone : "${var.base_subdomain}.${var.dns_zone}"
}

resource "scaleway_domain_record" "platform" {
  for_each = local.hosts

  dns_zone        = var.dns_zone
  name            = each.value
  type            = "A"
  data            = var.ingress_ip
  ttl             = var.ttl
  keep_empty_zone = var.keep_empty_zone
}

resource "scaleway_domain_record" "caa" {
  for_each = toset(var.caa_issuers)

  dns_zone        = var.dns_zone
  name            = var.base_subdomain
  type            = "CAA"
  data            = "0 issue \"${each.value}\""
  ttl             = var.ttl
  keep_empty_zone = var.keep_empty_zone
}
