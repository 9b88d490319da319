"""Account routes (admin): list, create, deactivate and rotate the bearer tokens of staff, supervisors and admins."""
from flask.views import MethodView

from service import accounts

from .access import principal, requires
from .blueprint import Blueprint
from .schemas.accounts import AccountIn, AccountOut, AccountPage, AccountQuery, AccountWithToken
from .schemas.common import ProblemSchema, take_page

blp = Blueprint("accounts", __name__, description="账号与访问令牌（管理员）")

ACCOUNT_IN = AccountIn()
ACCOUNT_OUT = AccountOut()
ACCOUNT_WITH_TOKEN = AccountWithToken()
ACCOUNT_PAGE = AccountPage()
ACCOUNT_QUERY = AccountQuery()
PROBLEM = ProblemSchema()

_problem = "application/problem+json"
_denied = [(401, "缺少或无效的访问令牌：code unauthorized、invalid_token"),
           (403, "不是管理员账号：code forbidden")]


def _errors(*extra: tuple[int, str]):
    """Documents the error statuses of a route and their codes in the OpenAPI document."""
    def decorate(fn):
        for status, description in reversed(_denied + list(extra)):
            fn = blp.alt_response(status, schema=PROBLEM, description=description, content_type=_problem)(fn)
        return fn

    return decorate


_not_found = (404, "账号不存在：code not_found")


@blp.route("/accounts")
class Accounts(MethodView):
    @requires("admin")
    @blp.arguments(ACCOUNT_QUERY, location="query")
    @blp.response(200, ACCOUNT_PAGE)
    @_errors((400, "分页游标无效：code invalid_cursor"),
             (422, "查询参数无效（角色、未知的大厅编码、active、limit）：code validation_error"))
    def get(self, args):
        """账号列表（可按大厅、角色、是否启用筛选；游标分页，新建的在前）"""
        cursor, limit, filters = take_page(args)
        return accounts.list_accounts(filters, cursor=cursor, limit=limit)

    @requires("admin")
    @blp.arguments(ACCOUNT_IN)
    @blp.response(201, ACCOUNT_WITH_TOKEN)
    @_errors((422, "角色、大厅或名称无效（工作人员和监管账号必须指定已有大厅）：code validation_error"))
    def post(self, data):
        """创建账号：响应中的访问令牌只出现这一次"""
        account, token = accounts.create_account(role=data["role"], hall_code=data.get("hall"), name=data["name"])
        return {**accounts.account_view(account), "token": token}


@blp.route("/accounts/<id:account_id>/deactivate")
class Deactivate(MethodView):
    @requires("admin")
    @blp.response(200, ACCOUNT_OUT)
    @_errors(_not_found, (409, "不能停用自己的账号：code cannot_deactivate_self；"
                               "当前账号已被另一名管理员停用：code actor_inactive"))
    def post(self, account_id):
        """停用账号：其令牌立即失效；重复停用返回 200"""
        return accounts.deactivate(account_id, actor_id=principal().account_id)


@blp.route("/accounts/<id:account_id>/rotate")
class Rotate(MethodView):
    @requires("admin")
    @blp.response(200, ACCOUNT_WITH_TOKEN)
    @_errors(_not_found, (409, "账号已停用，不能更换令牌：code account_inactive"))
    def post(self, account_id):
        """更换访问令牌：旧令牌立即失效，新令牌只在此响应中出现一次"""
        view, token = accounts.rotate(account_id)
        return {**view, "token": token}
