variable "bucket_name" {
  description = "Globally unique bucket name for uploads (logos, documents, minutes) and tenant exports."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 lowercase letters, digits, dots and hyphens."
  }
}

variable "region" {
  description = "Scaleway region of the bucket."
  type        = string
  default     = "fr-par"
}

variable "project_id" {
  description = "Scaleway project holding the bucket; the access key created here is scoped to it (use a project dedicated to this environment)."
  type        = string
}

variable "exports_prefix" {
  description = "Key prefix of per-tenant export archives, which expire (an operator downloads them, they are not a backup)."
  type        = string
  default     = "exports/"
}

variable "exports_expiration_days" {
  description = "Days after which export archives are deleted."
  type        = number
  default     = 30
}

variable "glacier_transition_days" {
  description = "Days after which uploads move to the GLACIER class (cheaper, slower to read); 0 disables the transition. GLACIER does not exist in pl-waw."
  type        = number
  default     = 0
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which unfinished multipart uploads are cleaned up (they are billed)."
  type        = number
  default     = 7
}

variable "cors_allowed_origins" {
  description = "Origins allowed to upload directly from browsers (e.g. https://console.participe.fr); empty: no CORS rule."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags (key = value) added to the bucket."
  type        = map(string)
  default     = {}
}
