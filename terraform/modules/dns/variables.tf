variable "dns_zone" {
  description = "Scaleway Domains zone that holds the platform's records (e.g. participe.fr, or a delegated sub-zone)."
  type        = string
}

variable "base_subdomain" {
  description = "Label(s) of the base domain inside the zone: empty when the base domain is the zone itself (participe.fr), else e.g. \"app\" for app.participe.fr. The base domain is PARTICIPE_BASE_DOMAIN."
  type        = string
  default     = ""
}

variable "ingress_ip" {
  description = "IPv4 address of the ingress controller's load balancer (the kubernetes module's ingress_ip)."
  type        = string

  validation {
    condition     = can(cidrhost("${var.ingress_ip}/32", 0))
    error_message = "ingress_ip must be an IPv4 address."
  }
}

variable "ttl" {
  description = "TTL of the records, in seconds. Keep it short while migrating between clusters."
  type        = number
  default     = 300
}

variable "caa_issuers" {
  description = "Certificate authorities allowed to issue for the base domain (CAA records); empty: no CAA record."
  type        = list(string)
  default     = ["letsencrypt.org"]
}

variable "keep_empty_zone" {
  description = "Keep the zone when these records are destroyed and only NS records remain."
  type        = bool
  default     = true
}
