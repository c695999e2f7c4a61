# The dev bot: its own project, acting on fluxori-dev. The image is given at apply:
#   terraform apply -var-file=environments/dev.tfvars -var image=IMAGE:TAG
project                         = "fluxori-ops-dev"
fluxori_project                 = "fluxori-dev"
environment                     = "dev"
region                          = "africa-south1"
slack_ops_channel               = "C0FLUXOPS" # replace: the channel id of #fluxori-ops in this environment's workspace
fluxori_runtime_service_account = "fluxori-runtime@fluxori-dev.iam.gserviceaccount.com"
log_level                       = "DEBUG"
max_instances                   = 2
error_rate_threshold            = 10
latency_threshold_ms            = 2000
