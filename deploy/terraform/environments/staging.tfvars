# The staging bot: its own project, acting on fluxori-staging. The image is given at apply:
#   terraform apply -var-file=environments/staging.tfvars -var image=IMAGE:TAG
project                         = "fluxori-ops-staging"
fluxori_project                 = "fluxori-staging"
environment                     = "staging"
region                          = "africa-south1"
slack_ops_channel               = "C0FLUXOPS" # replace: the channel id of #fluxori-ops in this environment's workspace
fluxori_runtime_service_account = "fluxori-runtime@fluxori-staging.iam.gserviceaccount.com"
log_level                       = "INFO"
max_instances                   = 2
error_rate_threshold            = 5
latency_threshold_ms            = 1500
