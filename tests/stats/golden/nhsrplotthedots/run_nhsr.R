# Produces ptd_spc_series.csv / ptd_spc_points.csv: NHSRplotthedots' own point classification of each
# series, by its internal functions ptd_spc_standard() and ptd_calculate_point_type().
#
#   Rscript run_nhsr.R NHSRplotthedots/R input.csv output.csv
#
# NHSRplotthedots/R is the package's R/ folder (commit 050b07d7, version 0.2.2), not kept in this
# repository. input.csv has columns series, i, y (a C99 hex float, so R reads the exact double),
# direction (increase / decrease / neutral), screen (TRUE / FALSE). Debian's R 4.2.2 ships dplyr
# 1.0.10, older than the 1.1 the package asks for, so the sourced text has case_when's `.default = x`
# rewritten as the equivalent `TRUE ~ x`; nothing else is changed.
suppressMessages(library(dplyr))
args <- commandArgs(trailingOnly = TRUE)
for (f in c("ZZZ.R", "ptd_spc_standard.R", "ptd_calculate_point_type.R", "ptd_add_short_group_warnings.R")) {
  code <- gsub(".default = ", "TRUE ~ ", readLines(file.path(args[[1]], f)), fixed = TRUE)
  eval(parse(text = code), envir = globalenv())
}
d <- read.csv(args[[2]], colClasses = c("integer", "integer", "character", "character", "logical"))
d$y <- as.numeric(d$y)
out <- list()
for (s in unique(d$series)) {
  sub <- d[d$series == s, ]
  .data <- data.frame(y = sub$y, x = as.Date("2020-01-01") + seq_len(nrow(sub)), rebase = 0)
  opts <- list(value_field = "y", date_field = "x", screen_outliers = sub$screen[[1]])
  dir <- switch(sub$direction[[1]], increase = 1, neutral = 0, decrease = -1)
  r <- ptd_spc_standard(.data, opts) %>% ptd_calculate_point_type(dir)
  r <- suppressWarnings(ptd_add_short_group_warnings(r))
  out[[length(out) + 1]] <- data.frame(
    series = s, i = sub$i, mean_col = sprintf("%a", r$mean_col), lpl = sprintf("%a", r$lpl),
    upl = sprintf("%a", r$upl), special_cause_type = r$special_cause_type,
    special_cause_flag = r$special_cause_flag, point_type = r$point_type,
    short_group_warning = r$short_group_warning
  )
}
write.csv(do.call(rbind, out), args[[3]], row.names = FALSE)
