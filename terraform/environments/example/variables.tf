variable "project_id" {
  description = "Scaleway project of this environment (one project per environment keeps IAM scopes tight)."
  type        = string
}

variable "environment" {
  description = "Short environment name, used as a prefix of every resource (e.g. prod, staging)."
  type        = string
  default     = "example"
}

variable "region" {
  description = "Scaleway region (fr-par, nl-ams, pl-waw)."
  type        = string
  default     = "fr-par"
}

variable "zone" {
  description = "Scaleway zone of the nodes and load-balancer IPs."
  type        = string
  default     = "fr-par-2"
}

variable "private_network_cidr" {
  description = "IPv4 range of the Private Network shared by the nodes and the database (the chart's NetworkPolicy egress to PostgreSQL names it)."
  type        = string
  default     = "172.16.0.0/22"
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the cluster (1.30 or later)."
  type        = string
  default     = "1.32"
}

variable "node_type" {
  description = "Node type of the cluster's pool."
  type        = string
  default     = "PRO2-S"
}

variable "database_node_type" {
  description = "Managed PostgreSQL instance type."
  type        = string
  default     = "DB-PRO2-XS"
}

variable "database_ha" {
  description = "High-availability PostgreSQL (standby node, automatic failover)."
  type        = bool
  default     = true
}

variable "uploads_bucket_name" {
  description = "Globally unique name of the uploads bucket."
  type        = string
}

variable "dns_zone" {
  description = "Scaleway Domains zone of the platform (e.g. participe.fr)."
  type        = string
}

variable "base_subdomain" {
  description = "Base domain inside the zone: empty for the zone itself, else its label(s)."
  type        = string
  default     = ""
}

variable "custom_domains_edge" {
  description = "Reserve a load-balancer IP for the chart's on-demand-TLS edge (custom domains)."
  type        = bool
  default     = true
}
