"""portal accounts: memberships, invitations, e-mailed login codes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 08:30:00
"""

import sqlalchemy as sa
from alembic import op

import workbench.storage.base

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('portal_memberships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('linked_at', workbench.storage.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_portal_memberships_participant_id_participants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_portal_memberships_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_memberships')),
    sa.UniqueConstraint('participant_id', name=op.f('uq_portal_memberships_participant_id'))
    )
    op.create_index(op.f('ix_portal_memberships_user_id'), 'portal_memberships', ['user_id'], unique=False)
    op.create_table('portal_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', workbench.storage.base.UTCDateTime(), nullable=False),
    sa.Column('expires_at', workbench.storage.base.UTCDateTime(), nullable=False),
    sa.Column('used_at', workbench.storage.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_portal_invitations_participant_id_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_invitations_token_hash'))
    )
    op.create_index(op.f('ix_portal_invitations_participant_id'), 'portal_invitations', ['participant_id'], unique=False)
    op.create_table('portal_login_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('code_hmac', sa.String(length=64), nullable=False),
    sa.Column('created_at', workbench.storage.base.UTCDateTime(), nullable=False),
    sa.Column('expires_at', workbench.storage.base.UTCDateTime(), nullable=False),
    sa.Column('used_at', workbench.storage.base.UTCDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_portal_login_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_login_codes'))
    )
    op.create_index(op.f('ix_portal_login_codes_user_id'), 'portal_login_codes', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_portal_login_codes_user_id'), table_name='portal_login_codes')
    op.drop_table('portal_login_codes')
    op.drop_index(op.f('ix_portal_invitations_participant_id'), table_name='portal_invitations')
    op.drop_table('portal_invitations')
    op.drop_index(op.f('ix_portal_memberships_user_id'), table_name='portal_memberships')
    op.drop_table('portal_memberships')
