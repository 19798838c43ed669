"""ListKeys as the admin panel uses it: search, tag, sort, and reading one's own writes."""

from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.common.keys import mask
from gempool.keypool.testing import Harness, eventually

KEYS = [f"AIzaSyListing{i:02d}-abcdefghijklmnopq{i:02d}" for i in range(6)]


async def listed(kp: Harness, **filters: object) -> list[str]:
    page = await kp.stub.ListKeys(pb.ListKeysRequest(page_size=100, **filters))  # type: ignore[arg-type]
    return [k.masked for k in page.keys]


async def loaded(kp: Harness, count: int) -> None:
    async def enough() -> bool:
        return (await kp.stub.ListKeys(pb.ListKeysRequest(page_size=1))).total >= count

    await eventually(enough)


async def test_search_by_visible_part_tag_and_reason_then_sort(keypool: Harness) -> None:
    keypool.fake.add_keys(KEYS[:2], tags=["team-a"])
    keypool.fake.add_keys(KEYS[2:])
    await loaded(keypool, 6)
    assert sorted(await listed(keypool, tag="team-a")) == sorted(mask(k) for k in KEYS[:2])
    assert sorted(await listed(keypool, query="TEAM-A")) == sorted(mask(k) for k in KEYS[:2])
    assert await listed(keypool, query=mask(KEYS[3])[-4:]) == [mask(KEYS[3])]
    assert await listed(keypool, query="nothing like it") == []
    assert await listed(keypool, sort="-masked") == sorted((mask(k) for k in KEYS), reverse=True)
    first = await keypool.stub.ListKeys(pb.ListKeysRequest(page_size=4, sort="masked"))
    rest = await keypool.stub.ListKeys(
        pb.ListKeysRequest(page_size=4, sort="masked", page_token=first.next_page_token)
    )
    assert [k.masked for k in [*first.keys, *rest.keys]] == sorted(mask(k) for k in KEYS)
    assert first.total == rest.total == 6 and not rest.next_page_token


async def test_a_list_asked_at_a_keys_revision_shows_that_change(keypool: Harness) -> None:
    keypool.fake.add_keys(KEYS[:1])
    await loaded(keypool, 1)
    for n in range(2, 6):
        keypool.fake.add_keys(KEYS[n - 1 : n])  # the keypool hears of it a moment later
        revision = keypool.fake.keys_revision
        page = await keypool.stub.ListKeys(pb.ListKeysRequest(min_keys_revision=revision))
        assert page.total == n
