/*
 * units.h -- the unit test groups, run in this order by main.c.
 */
#ifndef AIM_UNITS_H
#define AIM_UNITS_H

void test_b64(void);
void test_json(void);
void test_keys(void);
void test_jws(void);
void test_verify(void);
void test_scope(void);
void test_policy(void);
void test_revoke(void);
void test_runtime(void);
void test_dpop(void);
void test_decide(void);
void test_state(void);
void test_ssf(void);
void test_decide_attack(void);
void test_files(void);
void test_state_repair(void);
void test_mcp(void);
void test_shared(void);

#endif
