/*
 * facts_getters.h: the getters of the fact table (facts.c) that live in
 * their own files, by concern: sender authentication and state
 * (facts_auth.c), the message's content and its virus scan
 * (facts_content.c). Private to rules/: everyone else reads facts through
 * the table (facts.h).
 */
#ifndef MXG_RULES_FACTS_GETTERS_H
#define MXG_RULES_FACTS_GETTERS_H

#include "rules/facts.h"

/* facts_auth.c: SPF, DKIM, DMARC (each evaluated on first use) and greylisting. */
enum fact_result get_dkim_algorithm(const struct envelope *env, struct fact_value *out);
enum fact_result get_dkim_domain(const struct envelope *env, struct fact_value *out);
enum fact_result get_dkim_key_bits(const struct envelope *env, struct fact_value *out);
enum fact_result get_dkim_passed(const struct envelope *env, struct fact_value *out);
enum fact_result get_dkim_result(const struct envelope *env, struct fact_value *out);
enum fact_result get_dkim_selector(const struct envelope *env, struct fact_value *out);
enum fact_result get_dkim_signatures(const struct envelope *env, struct fact_value *out);
enum fact_result get_dmarc_dkim_aligned(const struct envelope *env, struct fact_value *out);
enum fact_result get_dmarc_from_domain(const struct envelope *env, struct fact_value *out);
enum fact_result get_dmarc_from_problem(const struct envelope *env, struct fact_value *out);
enum fact_result get_dmarc_org_domain(const struct envelope *env, struct fact_value *out);
enum fact_result get_dmarc_policy(const struct envelope *env, struct fact_value *out);
enum fact_result get_dmarc_published(const struct envelope *env, struct fact_value *out);
enum fact_result get_dmarc_result(const struct envelope *env, struct fact_value *out);
enum fact_result get_dmarc_spf_aligned(const struct envelope *env, struct fact_value *out);
enum fact_result get_greylist_wait(const struct envelope *env, struct fact_value *out);
enum fact_result get_spf_domain(const struct envelope *env, struct fact_value *out);
enum fact_result get_spf_explanation(const struct envelope *env, struct fact_value *out);
enum fact_result get_spf_helo_result(const struct envelope *env, struct fact_value *out);
enum fact_result get_spf_result(const struct envelope *env, struct fact_value *out);

/* facts_content.c: MIME structure, attachments, archives, body text and virus.*;
   the nth_ getters give the values of a multi-valued fact one by one. */
enum fact_result get_anomaly(const struct envelope *env, struct fact_value *out);
enum fact_result get_archive_encrypted(const struct envelope *env, struct fact_value *out);
enum fact_result get_attachment_count(const struct envelope *env, struct fact_value *out);
enum fact_result get_attachment_ext(const struct envelope *env, struct fact_value *out);
enum fact_result get_attachment_name(const struct envelope *env, struct fact_value *out);
enum fact_result get_attachment_type(const struct envelope *env, struct fact_value *out);
enum fact_result get_body_text(const struct envelope *env, struct fact_value *out);
enum fact_result get_detected_type(const struct envelope *env, struct fact_value *out);
enum fact_result get_member(const struct envelope *env, struct fact_value *out);
enum fact_result get_member_ext(const struct envelope *env, struct fact_value *out);
enum fact_result get_mime_depth(const struct envelope *env, struct fact_value *out);
enum fact_result get_mime_limit(const struct envelope *env, struct fact_value *out);
enum fact_result get_mime_parts(const struct envelope *env, struct fact_value *out);
enum fact_result get_type_mismatch(const struct envelope *env, struct fact_value *out);
enum fact_result get_virus_found(const struct envelope *env, struct fact_value *out);
enum fact_result get_virus_name(const struct envelope *env, struct fact_value *out);
enum fact_result nth_anomaly(const struct envelope *env, unsigned i, struct fact_value *out);
enum fact_result nth_attachment_ext(const struct envelope *env, unsigned i, struct fact_value *out);
enum fact_result nth_attachment_name(const struct envelope *env, unsigned i, struct fact_value *out);
enum fact_result nth_attachment_type(const struct envelope *env, unsigned i, struct fact_value *out);
enum fact_result nth_detected_type(const struct envelope *env, unsigned i, struct fact_value *out);
enum fact_result nth_member(const struct envelope *env, unsigned i, struct fact_value *out);
enum fact_result nth_member_ext(const struct envelope *env, unsigned i, struct fact_value *out);

#endif
